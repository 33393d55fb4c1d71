/* An order-0 block freed as order 3 (would free seven frames it does not own). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(3, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 0);
  return got_through("free_pages with the wrong order");
}
