/* One array of objects of 64 bytes (runs go back to their slabs) given to
 * kmem_cache_free_bulk on two threads at the same moment, then the caches
 * flushed: caught at a free or when an object goes back to its slab. */
#include "misuse.h"
static struct kmem_cache* c;
static void* o[96];
static void take(void) {
  for (int i = 0; i < 96; ++i) CHECK((o[i] = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
}
static void give(void) { kmem_cache_free_bulk(c, 96, o); }
int main(void) {
  misuse_up();
  c = kmem_cache_create("bulk", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* keep = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(keep != NULL);
  on_two_threads_at_once(take, give);
  kmem_cache_shrink(c);
  pf_reclaim();
  for (int i = 0; i < 200; ++i) CHECK(kmem_cache_alloc(c, GFP_KERNEL) != NULL);
  return got_through("one array bulk-freed on two threads at once");
}
