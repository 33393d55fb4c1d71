/* free_pages of a 4-frame aligned alloc_contig allocation, as if a block of order 2. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(4, 4 * PAGE, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 2);
  return got_through("free_pages of a contig allocation");
}
