/* kmem_cache_free_bulk(NULL, ...) of kmalloc objects. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* o[2] = {kmalloc(64, GFP_KERNEL), kmalloc(64, GFP_KERNEL)};
  CHECK(o[0] != NULL && o[1] != NULL);
  kmem_cache_free_bulk(NULL, 2, o);
  return got_through("kmem_cache_free_bulk of a null cache");
}
