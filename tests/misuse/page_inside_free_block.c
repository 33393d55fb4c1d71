/* A frame inside a free order-4 block freed as if it were allocated. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(4, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 4);
  pf_drain_pages();
  free_pages(p + 5 * PAGE, 0);
  return got_through("free_pages of a frame inside a free block");
}
