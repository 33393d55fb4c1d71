/* alloc_contig with an alignment that is a power of two below 4096
 * (pfalloc.h: a power of two >= 4096, or 0). */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  pf_phys_t p = alloc_contig(2, 2048, 0, 0, GFP_KERNEL);
  if (p != 0) { CHECK(p % PAGE == 0); free_contig(p, 2); }
  CHECK(free_frames() == before && pf_verify() == 0);
  return got_through("alloc_contig with an alignment of 2048");
}
