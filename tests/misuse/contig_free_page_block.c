/* free_contig of an alloc_pages block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(2, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p, 4);
  return got_through("free_contig of an alloc_pages block");
}
