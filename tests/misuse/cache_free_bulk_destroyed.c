/* kmem_cache_free_bulk into a destroyed cache: refused whole, once. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* a = kmem_cache_create("gone", 40, 0, 0, NULL);
  struct kmem_cache* b = kmem_cache_create("other", 40, 0, 0, NULL);
  CHECK(a != NULL && b != NULL);
  void* objs[4];
  CHECK(kmem_cache_alloc_bulk(b, GFP_KERNEL, 4, objs) == 4);
  CHECK(kmem_cache_destroy(a) == 0);
  kmem_cache_free_bulk(a, 4, objs);
  return got_through("kmem_cache_free_bulk into a destroyed cache");
}
