/* kmem_cache_alloc of a new cache (its arrays empty: the slow path) with an
 * unknown gfp bit. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("gfp", 48, 0, 0, NULL);
  CHECK(c != NULL);
  kmem_cache_alloc(c, GFP_KERNEL | 0x80u);
  return got_through("kmem_cache_alloc with an unknown gfp bit");
}
