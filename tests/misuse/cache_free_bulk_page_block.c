/* kmem_cache_free_bulk with a page block from alloc_pages among its objects. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  CHECK(c != NULL);
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  void* o[2] = {kmem_cache_alloc(c, GFP_KERNEL), phys_to_virt(p)};
  CHECK(o[0] != NULL);
  kmem_cache_free_bulk(c, 2, o);
  return got_through("kmem_cache_free_bulk of a page block");
}
