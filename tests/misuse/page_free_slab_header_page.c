/* free_pages of the page that holds slab headers. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("hdr", 64, 0, SLAB_NO_COLOUR, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  uintptr_t* found = misuse_find_record(c, o);
  CHECK(found != NULL);
  free_pages(virt_to_phys(found) & ~(PAGE - 1), 0);
  return got_through("free_pages of a page of slab headers");
}
