/* kfree of the start of an alloc_contig range (3 frames). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(3, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  kfree(phys_to_virt(p));
  return got_through("kfree of a contiguous range");
}
