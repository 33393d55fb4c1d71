/* A block of alloc_pages_bulk(order 1) freed as order 0. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p[4];
  CHECK(alloc_pages_bulk(1, GFP_KERNEL, 4, p) == 4);
  free_pages(p[2], 0);
  return got_through("a bulk block freed with the wrong order");
}
