/* free_pages twice on one order-0 block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 0);
  free_pages(p, 0);
  return got_through("second free_pages of one block");
}
