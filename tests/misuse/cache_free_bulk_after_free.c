/* kmem_cache_free(o), then kmem_cache_free_bulk of an array holding o. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  void* o[8];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 8, o) == 8);
  kmem_cache_free(c, o[5]);
  kmem_cache_free_bulk(c, 8, o);
  return got_through("kmem_cache_free_bulk of an object freed before");
}
