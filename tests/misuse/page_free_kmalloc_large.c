/* free_pages of the block behind a large kmalloc (the allocator's own). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* big = kmalloc(20000, GFP_KERNEL);
  CHECK(big != NULL);
  free_pages(virt_to_phys(big), 3);
  return got_through("free_pages of a kmalloc-large block");
}
