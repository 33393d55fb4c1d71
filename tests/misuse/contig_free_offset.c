/* free_contig of a contiguous range's start plus 100 bytes. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p + 100, 5);
  return got_through("free_contig of an unaligned address");
}
