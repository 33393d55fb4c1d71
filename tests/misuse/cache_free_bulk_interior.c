/* kmem_cache_free_bulk with a pointer 8 bytes into an object. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  void* o[4];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, o) == 4);
  void* batch[4] = {o[0], o[1], (char*)o[2] + 8, o[3]};
  kmem_cache_free_bulk(c, 4, batch);
  return got_through("an interior pointer in kmem_cache_free_bulk");
}
