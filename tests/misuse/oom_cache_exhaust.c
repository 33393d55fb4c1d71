/* A private cache allocating until memory runs out, then destroyed clean. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  struct kmem_cache* c = kmem_cache_create("fill", 1000, 0, 0, NULL);
  CHECK(c != NULL);
  static void* got[100000];
  size_t n = 0;
  while (n < 100000 && (got[n] = kmem_cache_alloc(c, GFP_KERNEL | __GFP_NOWARN)) != NULL) ++n;
  CHECK(n > 1000 && n < 100000);
  while (n > 0) kmem_cache_free(c, got[--n]);
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
