/* A SLAB_DEBUG cache whose constructor allocates from its own cache (its
 * slabs grow with no per-CPU array in between: was an endless recursion). */
#include "misuse.h"
static struct kmem_cache* c;
static void ctor(void* p) { *(void**)p = kmem_cache_alloc(c, GFP_KERNEL); }
int main(void) {
  misuse_up();
  c = kmem_cache_create("ctor-self-dbg", 64, 0, SLAB_DEBUG, ctor);
  CHECK(c != NULL);
  if (kmem_cache_alloc(c, GFP_KERNEL) != NULL) return got_through("a constructor allocated from its own cache");
  return got_through("a constructor that allocates from its own debug cache");
}
