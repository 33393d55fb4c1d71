/* free_pages of the second frame of an alloc_contig allocation. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p + PAGE, 0);
  return got_through("free_pages of a piece of a contig allocation");
}
