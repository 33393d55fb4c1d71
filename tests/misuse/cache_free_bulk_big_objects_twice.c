/* kmem_cache_free_bulk twice with objects of 2 KiB (few per slab: the
 * depot path). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk2k", 2048, 0, 0, NULL);
  CHECK(c != NULL);
  void* keep = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(keep != NULL);
  void* o[40];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 40, o) == 40);
  kmem_cache_free_bulk(c, 40, o);
  kmem_cache_free_bulk(c, 40, o);
  return got_through("kmem_cache_free_bulk of 2 KiB objects twice");
}
