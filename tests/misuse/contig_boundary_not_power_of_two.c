/* alloc_contig with a boundary that is no power of two. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(2, 0, 3 * PAGE, 0, GFP_KERNEL);
  if (p != 0) free_contig(p, 2);
  return got_through("alloc_contig with a boundary of 3 pages");
}
