/* Bulk calls with count 0 (and a null array): nothing happens, no report. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  struct kmem_cache* c = kmem_cache_create("bulk", 64, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 0, NULL) == 0);
  kmem_cache_free_bulk(c, 0, NULL);
  CHECK(alloc_pages_bulk(0, GFP_KERNEL, 0, NULL) == 0);
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
