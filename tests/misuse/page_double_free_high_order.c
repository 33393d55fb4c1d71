/* free_pages twice on an order-5 block (past the per-CPU cache orders). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(5, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 5);
  free_pages(p, 5);
  return got_through("second free_pages of an order-5 block");
}
