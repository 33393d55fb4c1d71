/* kmem_cache_free_bulk of kmalloc objects of the cache's size. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c64", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* o[4];
  for (int i = 0; i < 4; ++i) CHECK((o[i] = kmalloc(64, GFP_KERNEL)) != NULL);
  kmem_cache_free_bulk(c, 4, o);
  return got_through("kmem_cache_free_bulk of kmalloc objects");
}
