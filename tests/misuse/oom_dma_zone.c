/* The DMA zone (below 16 MiB) taken whole: GFP_DMA then fails, others don't. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  static pf_phys_t got[4096];
  size_t n = 0;
  while (n < 4096 && (got[n] = alloc_pages(0, GFP_DMA | __GFP_NOWARN)) != 0) {
    CHECK(got[n] < 16 * MiB);
    ++n;
  }
  CHECK(n > 0 && n < 4096);
  CHECK(alloc_pages(0, GFP_DMA | __GFP_NOWARN) == 0);
  pf_phys_t other = alloc_pages(0, GFP_KERNEL);
  CHECK(other >= 16 * MiB);
  free_pages(other, 0);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
