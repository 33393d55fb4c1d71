/* kmem_cache_alloc_bulk of 0 objects with an unknown gfp bit. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  void* o[1];
  CHECK(c != NULL);
  CHECK(kmem_cache_alloc_bulk(c, 0x80000000u, 0, o) == 0);
  return got_through("kmem_cache_alloc_bulk(count 0) with an unknown gfp bit");
}
