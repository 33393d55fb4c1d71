/* kmem_cache_free_bulk with null entries among the objects: skipped, as
 * kfree(NULL) (Linux's bulk free skips them too); the rest are freed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  uint64_t before = free_frames();
  void* o[4];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, o) == 4);
  void* batch[6] = {o[0], NULL, o[1], o[2], NULL, o[3]};
  kmem_cache_free_bulk(c, 6, batch);
  CHECK(pf_verify() == 0);
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(free_frames() >= before);
  return 0;
}
