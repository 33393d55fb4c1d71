/* SLAB_DEBUG cache: an overrun of a live object, found by pf_verify. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg", 100, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  char* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  o[100] = 0;
  (void)pf_verify();
  return got_through("overrun of a live object");
}
