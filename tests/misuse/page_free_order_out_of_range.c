/* free_pages with an order no block can have. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 40);
  return got_through("free_pages with order 40");
}
