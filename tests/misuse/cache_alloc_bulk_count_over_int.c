/* kmem_cache_alloc_bulk with a count its int result cannot carry, into a
 * small array (once: objects written far past the array, then a crash). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 8, 0, 0, NULL);
  CHECK(c != NULL);
  static void* objs[8];
  kmem_cache_alloc_bulk(c, GFP_KERNEL, (size_t)-1, objs);
  return got_through("kmem_cache_alloc_bulk of SIZE_MAX objects");
}
