/* The same array given to kmem_cache_free_bulk twice. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  void* keep = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(keep != NULL);
  void* o[64];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 64, o) == 64);
  kmem_cache_free_bulk(c, 64, o);
  kmem_cache_free_bulk(c, 64, o);
  return got_through("kmem_cache_free_bulk of one array twice");
}
