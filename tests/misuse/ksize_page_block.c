/* ksize of a block from alloc_pages. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(2, GFP_KERNEL);
  CHECK(p != 0);
  CHECK(ksize(phys_to_virt(p)) == 0);
  return got_through("ksize of a page block");
}
