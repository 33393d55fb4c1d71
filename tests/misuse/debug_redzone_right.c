/* SLAB_DEBUG cache: one byte written past the object, found at free. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg", 40, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  char* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  o[40] = 1;
  kmem_cache_free(c, o);
  return got_through("right redzone overwritten");
}
