/* alloc_contig with max_addr not a page multiple and near the bottom: the
 * range ends at or below max_addr, or 0; nothing lost. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  for (uint64_t max = 1 * MiB; max < 1 * MiB + 5 * PAGE; max += 1000) {
    pf_phys_t p = alloc_contig(3, 0, 0, max, __GFP_NOWARN);
    if (p != 0) { CHECK(p + 3 * PAGE <= max); free_contig(p, 3); }
  }
  pf_phys_t p = alloc_contig(3, 0, 0, 8 * MiB + 100, __GFP_NOWARN);
  CHECK(p != 0 && p + 3 * PAGE <= 8 * MiB + 100);
  free_contig(p, 3);
  p = alloc_contig(3, 1ull << 20, 1ull << 20, 0, __GFP_NOWARN); /* aligned to, and within, 1 MiB */
  CHECK(p != 0 && p % (1ull << 20) == 0);
  free_contig(p, 3);
  CHECK(alloc_contig(1, 0, 0, PAGE - 1, __GFP_NOWARN) == 0);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
