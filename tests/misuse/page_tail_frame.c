/* The second frame of an order-2 block freed on its own. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(2, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p + PAGE, 0);
  return got_through("free_pages of a tail frame");
}
