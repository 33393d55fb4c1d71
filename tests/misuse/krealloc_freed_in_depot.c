/* krealloc (a shrink, which would not move) of an object that sits in the
 * cache's depot after a burst of frees. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 3000 };
  static void* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmalloc(128, GFP_KERNEL)) != NULL);
  for (int i = 0; i < N; ++i) kfree(o[i]);
  if (krealloc(o[0], 16, GFP_KERNEL) == o[0]) return got_through("a freed object handed back by krealloc");
  return got_through("krealloc of an object in the depot");
}
