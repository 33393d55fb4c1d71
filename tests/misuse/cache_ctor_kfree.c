/* A constructor that calls kfree of an object allocated before. */
#include "misuse.h"
static void* victim;
static void ctor(void* p) {
  (void)p;
  if (victim != NULL) { void* v = victim; victim = NULL; kfree(v); }
}
int main(void) {
  misuse_up();
  victim = kmalloc(32, GFP_KERNEL);
  CHECK(victim != NULL);
  struct kmem_cache* c = kmem_cache_create("ctor-free", 64, 0, 0, ctor);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  if (o != NULL) return got_through("a constructor freed");
  return got_through("a constructor that calls kfree");
}
