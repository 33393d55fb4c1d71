/* kmem_cache_free(NULL, object). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(NULL, o);
  return got_through("kmem_cache_free with a null cache");
}
