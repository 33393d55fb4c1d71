/* kfree of a slab's header (an object of the allocator's kmem_slab cache),
 * found as an outside tester would: a 64-byte aligned record in managed
 * memory that holds the cache handle and, next to it, the slab's first
 * object. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uintptr_t* found = misuse_slab_header(256, NULL);
  kfree(found);
  return got_through("kfree of a slab header");
}
