/* kmem_cache_alloc_bulk with an unknown gfp bit. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("gfp", 48, 0, 0, NULL);
  CHECK(c != NULL);
  void* objects[4];
  kmem_cache_alloc_bulk(c, GFP_KERNEL | 0x80u, 4, objects);
  return got_through("kmem_cache_alloc_bulk with an unknown gfp bit");
}
