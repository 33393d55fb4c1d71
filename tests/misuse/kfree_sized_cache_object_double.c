/* kfree_sized(o, 64) twice, o an object of a kmem_cache of 64-byte objects. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("k64", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* keep = kmem_cache_alloc(c, GFP_KERNEL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(keep != NULL && o != NULL);
  kfree_sized(o, 64);
  kfree_sized(o, 64);
  return got_through("kfree_sized twice of a cache's object");
}
