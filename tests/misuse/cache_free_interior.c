/* kmem_cache_free of a pointer 8 bytes into an object of the cache. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 100, 0, 0, NULL);
  CHECK(c != NULL);
  char* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o + 8);
  return got_through("kmem_cache_free of an interior pointer");
}
