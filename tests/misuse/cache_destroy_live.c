/* kmem_cache_destroy with an object still allocated. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("leaky", 40, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_alloc(c, GFP_KERNEL) != NULL);
  kmem_cache_destroy(c);
  return got_through("kmem_cache_destroy with a live object");
}
