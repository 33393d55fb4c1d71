/* krealloc of a freed object to a smaller size, the object on its slab's
 * freelist: once handed back as is (a shrink does not move), resurrecting
 * memory the cache would give to the next kmalloc too. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(64, GFP_KERNEL);
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree(p);
  pf_drain_pages();
  struct kmem_cache* c = kmem_cache_create("x", 8, 0, 0, NULL); /* unrelated */
  CHECK(c != NULL);
  kmem_cache_shrink(c);
  if (krealloc(p, 32, GFP_KERNEL) == p) return got_through("krealloc handed a freed object back");
  return got_through("krealloc of a freed object");
}
