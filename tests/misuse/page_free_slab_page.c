/* free_pages of the page that holds a slab of live kmalloc objects. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* o = kmalloc(64, GFP_KERNEL);
  CHECK(o != NULL);
  free_pages(virt_to_phys(o) & ~(PAGE - 1), 0);
  return got_through("free_pages of a slab page");
}
