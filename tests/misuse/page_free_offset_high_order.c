/* free_pages of an order-4 block's address plus 100 bytes. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(4, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p + 100, 4);
  return got_through("free_pages of an unaligned address, order 4");
}
