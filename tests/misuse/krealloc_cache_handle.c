/* krealloc of a kmem_cache handle (growing: would copy and free it). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 100, 0, 0, NULL);
  CHECK(c != NULL);
  if (krealloc(c, 100000, GFP_KERNEL) != NULL) return got_through("krealloc moved a cache record");
  return got_through("krealloc of a kmem_cache handle");
}
