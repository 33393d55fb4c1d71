/* kmem_cache_destroy of a kmalloc object that is no cache (once taken for
 * a record: a frame lost and verify() failing). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kzalloc(512, GFP_KERNEL);
  CHECK(p != NULL);
  kmem_cache_destroy((struct kmem_cache*)p);
  return got_through("kmem_cache_destroy of a kmalloc object");
}
