/* SLAB_DEBUG cache destroyed with a live object (listed with its caller). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg-leak", 40, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_alloc(c, GFP_KERNEL) != NULL);
  kmem_cache_destroy(c);
  return got_through("debug cache destroyed with a live object");
}
