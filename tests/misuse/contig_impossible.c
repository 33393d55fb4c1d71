/* alloc_contig requests no memory can meet: more frames than exist, an
 * alignment beyond memory, a limit below managed memory or below the count:
 * null results (out of memory, not misuse), nothing lost. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(alloc_contig((size_t)1 << 20, 0, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(SIZE_MAX, 0, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(1, 1ull << 63, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(1, 1ull << 40, 0, 0, __GFP_NOWARN) == 0);
  CHECK(alloc_contig(1, 0, 0, PAGE, __GFP_NOWARN) == 0);     /* ends at or below 4 KiB */
  CHECK(alloc_contig(16, 0, 0, 8 * PAGE, __GFP_NOWARN) == 0); /* limit below the count */
  CHECK(alloc_contig(16, 0, 8 * PAGE, 0, __GFP_NOWARN) == 0); /* boundary below the count */
  pf_phys_t p = alloc_contig(1, 1ull << 22, 1ull << 63, 0, GFP_KERNEL); /* huge boundary: fine */
  CHECK(p != 0 && p % (1ull << 22) == 0);
  free_contig(p, 1);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
