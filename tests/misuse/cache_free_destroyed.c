/* kmem_cache_free into a destroyed cache (of another cache's object). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* a = kmem_cache_create("gone", 40, 0, 0, NULL);
  struct kmem_cache* b = kmem_cache_create("other", 40, 0, 0, NULL);
  CHECK(a != NULL && b != NULL);
  void* o = kmem_cache_alloc(b, GFP_KERNEL);
  CHECK(o != NULL);
  CHECK(kmem_cache_destroy(a) == 0);
  kmem_cache_free(a, o);
  return got_through("kmem_cache_free into a destroyed cache");
}
