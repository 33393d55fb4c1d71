/* A use-after-free write over objects that sit in the cache's depot (a
 * burst freed past the per-CPU array), then allocations: the broken mark
 * is named when the depot hands the object on, never handed out. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 3000 };
  static char* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmalloc(128, GFP_KERNEL)) != NULL);
  for (int i = 0; i < N; ++i) kfree(o[i]);
  for (int i = 0; i < N; ++i) memset(o[i], 0x41, 128); /* every free object */
  for (int i = 0; i < N; ++i) CHECK(kmalloc(128, GFP_KERNEL) != NULL);
  return got_through("use-after-free writes over free objects");
}
