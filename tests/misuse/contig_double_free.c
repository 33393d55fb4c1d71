/* free_contig twice on one range. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(7, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p, 7);
  free_contig(p, 7);
  return got_through("second free_contig of one range");
}
