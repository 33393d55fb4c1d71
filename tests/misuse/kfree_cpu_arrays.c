/* kfree of an entry of a cache's per-CPU array (found by its content). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("arr", 200, 0, 0, NULL);
  CHECK(c != NULL);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  void* b = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(a != NULL && b != NULL);
  kmem_cache_free(c, a); /* the top two entries of this CPU's array */
  kmem_cache_free(c, b);
  uintptr_t* entry = misuse_find_pair(a, b);
  CHECK(entry != NULL);
  kfree(entry);
  return got_through("kfree of a per-CPU array entry");
}
