/* SLAB_DEBUG cache: a byte written into a freed (poisoned) object. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg", 64, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  char* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o);
  o[3] = 0;
  (void)pf_verify();
  return got_through("write after free");
}
