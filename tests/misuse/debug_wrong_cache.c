/* SLAB_DEBUG caches: an object given back to another debug cache. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* a = kmem_cache_create("dbg-a", 64, 0, SLAB_DEBUG, NULL);
  struct kmem_cache* b = kmem_cache_create("dbg-b", 64, 0, SLAB_DEBUG, NULL);
  CHECK(a != NULL && b != NULL);
  void* o = kmem_cache_alloc(a, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(b, o);
  return got_through("debug object to the wrong cache");
}
