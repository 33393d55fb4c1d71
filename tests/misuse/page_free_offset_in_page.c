/* free_pages of a block's address plus a few bytes: the frame is the
 * block's head, but the address is no block start. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p + 8, 0);
  return got_through("free_pages of an address inside the block's first frame");
}
