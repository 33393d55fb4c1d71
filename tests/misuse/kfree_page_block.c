/* kfree of a block from alloc_pages. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(1, GFP_KERNEL);
  CHECK(p != 0);
  kfree(phys_to_virt(p));
  return got_through("kfree of an alloc_pages block");
}
