/* kmem_cache_alloc_bulk of a cache whose constructor calls kmalloc (the
 * bulk call grows slabs without this CPU's array held). */
#include "misuse.h"
static void ctor(void* p) { *(void**)p = kmalloc(32, GFP_KERNEL); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("ctor-bulk", 64, 0, 0, ctor);
  CHECK(c != NULL);
  void* o[16];
  if (kmem_cache_alloc_bulk(c, GFP_KERNEL, 16, o) != 0) return got_through("a constructor allocated");
  return got_through("a constructor that calls kmalloc (bulk)");
}
