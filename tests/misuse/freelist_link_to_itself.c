/* Every free object's link overwritten with the object's own address (a
 * plain pointer: a one-object cycle if it were followed as is). */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  misuse_free_list_of_64(o, N);
  for (int i = 1; i < N; ++i) memcpy(o[i], &o[i], sizeof(char*));
  misuse_allocate_64(2 * N);
  return got_through("free-list links pointing at themselves");
}
