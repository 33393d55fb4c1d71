/* kmem_cache_alloc_bulk of INT_MAX objects (the array is large enough):
 * all or nothing, so 0 and nothing lost; then alloc_pages_bulk of more
 * blocks than exist: fewer, all the caller's. */
#include "misuse.h"
#include <limits.h>
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 512, 0, 0, NULL);
  CHECK(c != NULL);
  uint64_t before = free_frames();
  size_t n = (size_t)INT_MAX;
  void** out = mmap(NULL, n * sizeof(void*), PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(out != MAP_FAILED);
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL | __GFP_NOWARN, n, out) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  pf_phys_t* pages = (pf_phys_t*)out;
  size_t got = alloc_pages_bulk(0, GFP_KERNEL | __GFP_NOWARN, 1u << 20, pages);
  CHECK(got > 0 && got < (1u << 20));
  for (size_t i = 0; i < got; ++i) free_pages(pages[i], 0);
  CHECK(free_frames() == before);
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(pf_verify() == 0);
  return 0;
}
