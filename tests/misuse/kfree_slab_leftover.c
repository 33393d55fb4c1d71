/* kfree of the first byte past a slab's last object (the slab's leftover
 * bytes): objects of 1000 bytes, four to a frame. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c1000", 1000, 0, SLAB_NO_COLOUR, NULL);
  CHECK(c != NULL);
  char* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  /* the last byte of o's frame lies past the frame's last object */
  char* end = (char*)(((uintptr_t)o | (PAGE - 1)) - 7);
  kfree(end);
  return got_through("kfree of a slab's leftover bytes");
}
