/* kfree of a kmem_cache handle: the next kmem_cache_create must not reuse a
 * live cache's record. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("victim", 48, 0, 0, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kfree(c);
  return got_through("kfree of a kmem_cache handle");
}
