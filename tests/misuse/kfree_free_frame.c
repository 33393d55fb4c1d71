/* kfree of a pointer into a free frame. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 0);
  kfree(phys_to_virt(p));
  return got_through("kfree of a free frame");
}
