/* SLAB_DEBUG cache: an interior pointer freed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg", 64, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  char* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o + 16);
  return got_through("interior pointer in a debug cache");
}
