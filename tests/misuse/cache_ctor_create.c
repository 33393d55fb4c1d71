/* A constructor that creates a cache (the list of caches' lock comes
 * before this CPU's gate in the lock order). */
#include "misuse.h"
static void ctor(void* p) { *(void**)p = kmem_cache_create("inner", 32, 0, 0, NULL); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("ctor-create", 64, 0, 0, ctor);
  CHECK(c != NULL);
  kmem_cache_alloc(c, GFP_KERNEL);
  return got_through("a constructor that calls kmem_cache_create");
}
