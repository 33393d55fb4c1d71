/* kmem_cache_free of an object twice, the second time after its slab was
 * given back and the frame reused by another cache's slab (the address
 * now an object of that cache). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* a = kmem_cache_create("first", 64, 0, 0, NULL);
  struct kmem_cache* b = kmem_cache_create("second", 64, 0, 0, NULL);
  CHECK(a != NULL && b != NULL);
  void* p = kmem_cache_alloc(a, GFP_KERNEL);
  CHECK(p != NULL);
  kmem_cache_free(a, p);
  kmem_cache_shrink(a);
  int reused = 0;
  for (int i = 0; i < 256 && !reused; ++i) reused = kmem_cache_alloc(b, GFP_KERNEL) == p;
  CHECK(reused);
  kmem_cache_free(a, p);
  return got_through("kmem_cache_free into a slab of another cache");
}
