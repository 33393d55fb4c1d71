/* An order-2 block freed as order 1. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(2, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 1);
  return got_through("free_pages with a smaller order than allocated");
}
