/* free_pages of a tail frame of a multi-frame slab (kmalloc-4096's). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* o = kmalloc(4096, GFP_KERNEL);
  CHECK(o != NULL);
  pf_phys_t p = virt_to_phys(o);
  /* a frame of the same slab that is not its head: the next object's */
  void* n = kmalloc(4096, GFP_KERNEL);
  CHECK(n != NULL);
  pf_phys_t q = virt_to_phys(n);
  CHECK(q != p);
  free_pages(q > p ? q : p, 0);
  return got_through("free_pages of a slab's tail frame");
}
