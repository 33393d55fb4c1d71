/* kmem_cache_alloc_bulk from a destroyed cache (once an endless loop). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("gone", 40, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_destroy(c) == 0);
  void* objs[8];
  kmem_cache_alloc_bulk(c, GFP_KERNEL, 8, objs);
  return got_through("kmem_cache_alloc_bulk from a destroyed cache");
}
