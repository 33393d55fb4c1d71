/* A SLAB_DEBUG cache whose constructor calls kmalloc. */
#include "misuse.h"
static void ctor(void* p) { *(void**)p = kmalloc(32, GFP_KERNEL); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("ctor-alloc-dbg", 64, 0, SLAB_DEBUG, ctor);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  if (o != NULL) return got_through("a constructor allocated");
  return got_through("a constructor that calls kmalloc (debug cache)");
}
