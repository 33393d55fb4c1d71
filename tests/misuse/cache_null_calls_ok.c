/* Null arguments that are no misuse (as in Linux): kmem_cache_free(c, NULL),
 * kmem_cache_destroy(NULL), kmem_cache_shrink(NULL), kfree(NULL),
 * kfree_sized(NULL, n), ksize(NULL), krealloc(NULL, 0), bulk calls of 0
 * objects with null arrays: nothing happens, nothing lost. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  CHECK(c != NULL);
  kmem_cache_free(c, NULL);
  CHECK(kmem_cache_destroy(NULL) == 0);
  CHECK(kmem_cache_shrink(NULL) == 0);
  kfree(NULL);
  kfree_sized(NULL, 64);
  kfree_sized(NULL, 0);
  kfree_sized(NULL, SIZE_MAX);
  CHECK(ksize(NULL) == 0);
  CHECK(krealloc(NULL, 0, GFP_KERNEL) == NULL);
  CHECK(kmalloc(0, GFP_KERNEL) == NULL);
  CHECK(kcalloc(0, SIZE_MAX, GFP_KERNEL) == NULL);
  kmem_cache_free_bulk(c, 0, NULL);
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 0, NULL) == 0);
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(pf_format_buddyinfo(NULL, 0) == 0);
  CHECK(pf_format_slabinfo(NULL, 0) == 0);
  CHECK(pf_cpu_quiescent_count(~0u) == 0);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
