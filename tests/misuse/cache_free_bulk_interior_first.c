/* kmem_cache_free_bulk whose later entry is an interior pointer of a
 * neighbour in the same slab (a run of one slab). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* o[4];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, o) == 4);
  void* batch[4] = {o[0], o[1], (char*)o[2] + 8, o[3]};
  kmem_cache_free_bulk(c, 4, batch);
  return got_through("kmem_cache_free_bulk with an interior pointer mid-run");
}
