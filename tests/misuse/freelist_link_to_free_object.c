/* A use-after-free write of a plain pointer to another free object of the
 * same slab into a free object's link (on its slab's free list; a live
 * object keeps the slab): links are stored encoded, so the plain pointer
 * decodes to no object and is never followed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  misuse_free_list_of_64(o, N);
  for (int i = 1; i < N; ++i) memcpy(o[i], &o[(i + 7) % N == 0 ? 1 : (i + 7) % N], sizeof(char*));
  misuse_allocate_64(2 * N);
  return got_through("free-list links overwritten with plain pointers");
}
