/* An object of one cache given back to another of the same size. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* a = kmem_cache_create("one", 64, 0, 0, NULL);
  struct kmem_cache* b = kmem_cache_create("two", 64, 0, 0, NULL);
  CHECK(a != NULL && b != NULL);
  void* o = kmem_cache_alloc(a, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(b, o);
  return got_through("kmem_cache_free to the wrong cache");
}
