/* alloc_contig of absurd requests: SIZE_MAX and 2^52 frames, an alignment
 * of 2^63, a boundary smaller than the range, a limit below any frame:
 * 0 each time, nothing lost; an alignment of 0 and a limit of ~0 work. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(alloc_contig(SIZE_MAX, 0, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig((size_t)1 << 52, 0, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(4, 1ull << 63, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(4, 0, PAGE, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(4, 0, 0, 1, __GFP_NOWARN) == 0);
  pf_phys_t p = alloc_contig(4, 0, 0, ~0ull, __GFP_NOWARN);
  CHECK(p != 0);
  free_contig(p, 4);
  pf_phys_t pages[4];
  CHECK(alloc_pages_bulk(40, __GFP_NOWARN, 4, pages) == 0);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
