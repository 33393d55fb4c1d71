/* kmalloc until memory runs out: null, then everything given back. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  static void* got[400000];
  size_t n = 0;
  while (n < 400000 && (got[n] = kmalloc(256, GFP_KERNEL | __GFP_NOWARN)) != NULL) ++n;
  CHECK(n > 1000 && n < 400000);
  while (n > 0) kfree(got[--n]);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
