/* An address that is not a frame boundary. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p + 100, 0);
  return got_through("free_pages of an unaligned address");
}
