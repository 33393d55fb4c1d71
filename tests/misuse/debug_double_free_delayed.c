/* SLAB_DEBUG cache: free(p); free(q); free(p). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg", 40, 0, SLAB_DEBUG, NULL);
  CHECK(c != NULL);
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  void* q = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(p != NULL && q != NULL);
  kmem_cache_free(c, p);
  kmem_cache_free(c, q);
  kmem_cache_free(c, p);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  void* b = kmem_cache_alloc(c, GFP_KERNEL);
  void* d = kmem_cache_alloc(c, GFP_KERNEL);
  if (a == b || a == d || b == d) return got_through("one object handed out twice");
  kmem_cache_shrink(c);
  return got_through("delayed double free in a debug cache");
}
