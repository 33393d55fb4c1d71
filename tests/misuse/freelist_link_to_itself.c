/* Every free object's link overwritten with the object's own address (a
 * plain pointer: a one-object cycle if it were followed as is). */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmalloc(64, GFP_KERNEL)) != NULL);
  for (int i = 1; i < N; ++i) kfree(o[i]);
  pf_reclaim();
  for (int i = 1; i < N; ++i) memcpy(o[i], &o[i], sizeof(char*));
  for (int i = 0; i < 2 * N; ++i) CHECK(kmalloc(64, GFP_KERNEL) != NULL);
  return got_through("free-list links pointing at themselves");
}
