/* SLAB_DEBUG cache: kmem_cache_free twice in a row. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg", 40, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o);
  kmem_cache_free(c, o);
  return got_through("second free in a debug cache");
}
