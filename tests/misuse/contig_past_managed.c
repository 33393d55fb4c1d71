/* free_contig of a range running off the end of managed memory. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(3, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(65 * MiB - 2 * PAGE, 8);
  return got_through("free_contig past the end of memory");
}
