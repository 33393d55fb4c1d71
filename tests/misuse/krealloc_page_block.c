/* krealloc of a block from alloc_pages (growing). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  CHECK(krealloc(phys_to_virt(p), 10000, GFP_KERNEL) == NULL);
  return got_through("krealloc of a page block");
}
