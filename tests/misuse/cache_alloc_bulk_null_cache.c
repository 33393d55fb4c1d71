/* kmem_cache_alloc_bulk(NULL, ...). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* o[4];
  CHECK(kmem_cache_alloc_bulk(NULL, GFP_KERNEL, 4, o) == 0);
  return got_through("kmem_cache_alloc_bulk of a null cache");
}
