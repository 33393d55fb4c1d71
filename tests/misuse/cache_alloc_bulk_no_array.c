/* kmem_cache_alloc_bulk with no array for the objects (once a crash). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, NULL);
  return got_through("kmem_cache_alloc_bulk into a null array");
}
