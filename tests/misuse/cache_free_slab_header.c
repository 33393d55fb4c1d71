/* kmem_cache_free of a slab's header into the cache the slab belongs to. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("hdr", 64, 0, SLAB_NO_COLOUR, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  uintptr_t* found = misuse_find_record(c, o);
  CHECK(found != NULL);
  kmem_cache_free(c, found);
  return got_through("kmem_cache_free of a slab header");
}
