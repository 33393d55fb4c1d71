/* kmem_cache_alloc from a destroyed cache, after pf_reclaim (once an
 * endless loop growing a cache that no longer exists). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("gone", 40, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_destroy(c) == 0);
  pf_reclaim();
  if (kmem_cache_alloc(c, GFP_KERNEL) != NULL) return got_through("an object of a destroyed cache");
  return got_through("kmem_cache_alloc from a destroyed cache");
}
