/* kfree of a slab's header (an object of the allocator's kmem_slab cache),
 * found as an outside tester would: a 64-byte aligned record in managed
 * memory that holds the cache handle and, next to it, the slab's first
 * object. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("hdr", 256, 0, SLAB_NO_COLOUR, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  uintptr_t* found = misuse_find_record(c, o);
  CHECK(found != NULL);
  kfree(found);
  return got_through("kfree of a slab header");
}
