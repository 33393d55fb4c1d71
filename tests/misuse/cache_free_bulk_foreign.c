/* kmem_cache_free_bulk with a pointer to the caller's stack among its objects. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  CHECK(c != NULL);
  int local;
  void* o[3];
  o[0] = kmem_cache_alloc(c, GFP_KERNEL);
  o[1] = &local;
  o[2] = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o[0] != NULL && o[2] != NULL);
  kmem_cache_free_bulk(c, 3, o);
  return got_through("kmem_cache_free_bulk of a stack pointer");
}
