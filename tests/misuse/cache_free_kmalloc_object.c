/* A kmalloc object given to kmem_cache_free of a private cache. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("private", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* o = kmalloc(64, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o);
  return got_through("kmem_cache_free of a kmalloc object");
}
