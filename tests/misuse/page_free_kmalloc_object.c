/* free_pages of a page-sized kmalloc object (page aligned: a slab's frame). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* o = kmalloc(4096, GFP_KERNEL);
  CHECK(o != NULL);
  free_pages(virt_to_phys(o), 0);
  return got_through("free_pages of a kmalloc(4096) object");
}
