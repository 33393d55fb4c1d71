/* Every frame taken: the next alloc_pages is 0, and giving them back leaves
 * the allocator exactly as found. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  static pf_phys_t got[20000];
  size_t n = 0;
  while (n < 20000 && (got[n] = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0) ++n;
  CHECK(n < 20000);
  CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
  CHECK(alloc_pages(3, __GFP_NOWARN) == 0);
  CHECK(kmalloc(20000, __GFP_NOWARN) == NULL);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
