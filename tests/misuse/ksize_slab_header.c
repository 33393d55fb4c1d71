/* ksize of a slab's header. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("hdr", 64, 0, SLAB_NO_COLOUR, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  uintptr_t* found = misuse_find_record(c, o);
  CHECK(found != NULL);
  if (ksize(found) != 0) return got_through("ksize gave a slab header a size");
  return got_through("ksize of a slab header");
}
