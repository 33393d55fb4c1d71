/* free_pages of the page that holds slab headers. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uintptr_t* found = misuse_slab_header(64, NULL);
  free_pages(virt_to_phys(found) & ~(PAGE - 1), 0);
  return got_through("free_pages of a page of slab headers");
}
