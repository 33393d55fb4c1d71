/* A constructor that calls kmalloc (slab.hpp: constructors run with this
 * CPU's gate held and must not call into the slab layer). */
#include "misuse.h"
static void ctor(void* p) { *(void**)p = kmalloc(32, GFP_KERNEL); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("ctor-alloc", 64, 0, 0, ctor);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  if (o != NULL) return got_through("a constructor allocated");
  return got_through("a constructor that calls kmalloc");
}
