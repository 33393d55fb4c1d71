/* kmem_cache_free twice. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("twice", 72, 0, 0, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o);
  kmem_cache_free(c, o);
  return got_through("second kmem_cache_free");
}
