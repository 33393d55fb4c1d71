/* kmem_cache_free twice, kmem_cache_shrink in between (the slab is gone). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("shrunk", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(p != NULL);
  kmem_cache_free(c, p);
  kmem_cache_shrink(c);
  kmem_cache_free(c, p);
  return got_through("kmem_cache_free after the slab was given back");
}
