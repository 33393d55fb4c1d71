/* kmem_cache_free of a slab's header into the cache the slab belongs to. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c;
  uintptr_t* found = misuse_slab_header(64, &c);
  kmem_cache_free(c, found);
  return got_through("kmem_cache_free of a slab header");
}
