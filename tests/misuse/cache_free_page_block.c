/* kmem_cache_free of an alloc_pages block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 4096, 0, 0, NULL);
  CHECK(c != NULL);
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  kmem_cache_free(c, phys_to_virt(p));
  return got_through("kmem_cache_free of a page block");
}
