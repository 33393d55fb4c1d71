/* kmem_cache_destroy of a cache destroyed already: the record went back to
 * the kmem_cache cache, so the handle is stale (once a crash, or a second
 * unlink that corrupted the list of caches). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("twice", 40, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_destroy(c) == 0);
  kmem_cache_destroy(c);
  return got_through("kmem_cache_destroy twice");
}
