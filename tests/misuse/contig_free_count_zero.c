/* free_contig of no frames of a live allocation. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(4, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p, 0);
  return got_through("free_contig of 0 frames");
}
