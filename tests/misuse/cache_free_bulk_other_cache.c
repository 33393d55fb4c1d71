/* kmem_cache_free_bulk with an object of another cache in the batch. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* a = kmem_cache_create("bulk-a", 40, 0, 0, NULL);
  struct kmem_cache* b = kmem_cache_create("bulk-b", 40, 0, 0, NULL);
  CHECK(a != NULL && b != NULL);
  void* o[4];
  CHECK(kmem_cache_alloc_bulk(a, GFP_KERNEL, 4, o) == 4);
  void* x = kmem_cache_alloc(b, GFP_KERNEL);
  CHECK(x != NULL);
  void* batch[5] = {o[0], o[1], x, o[2], o[3]};
  kmem_cache_free_bulk(a, 5, batch);
  return got_through("another cache's object in kmem_cache_free_bulk");
}
