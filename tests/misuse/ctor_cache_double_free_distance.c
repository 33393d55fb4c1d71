/* A cache with a constructor (its link past the object): free A, a burst
 * of others through the depot and the slabs, free A again. */
#include "misuse.h"
static void ctor(void* p) { memset(p, 0x11, 100); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("ctor", 100, 0, 0, ctor);
  CHECK(c != NULL);
  void* keep = kmem_cache_alloc(c, GFP_KERNEL);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(keep != NULL && a != NULL);
  kmem_cache_free(c, a);
  static void* o[3000];
  for (int i = 0; i < 3000; ++i) CHECK((o[i] = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
  for (int i = 0; i < 3000; ++i) kmem_cache_free(c, o[i]);
  kmem_cache_free(c, a);
  return got_through("a double free at distance in a constructed cache");
}
