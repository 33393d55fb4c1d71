/* A constructor that grows an object with krealloc past the kmalloc
 * classes (the new block would come from the page allocator, the free of
 * the old object be refused: it would stay allocated). */
#include "misuse.h"
static void* victim;
static void ctor(void* p) { *(void**)p = victim != NULL ? krealloc(victim, 100000, GFP_KERNEL) : NULL; }
int main(void) {
  misuse_up();
  victim = kmalloc(64, GFP_KERNEL);
  CHECK(victim != NULL);
  struct kmem_cache* c = kmem_cache_create("ctor-krealloc", 64, 0, 0, ctor);
  CHECK(c != NULL);
  kmem_cache_alloc(c, GFP_KERNEL);
  return got_through("a constructor that calls krealloc");
}
