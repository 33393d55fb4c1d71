/* A constructor that allocates from its own cache. */
#include "misuse.h"
static struct kmem_cache* c;
static void ctor(void* p) { *(void**)p = kmem_cache_alloc(c, GFP_KERNEL); }
int main(void) {
  misuse_up();
  c = kmem_cache_create("ctor-self", 64, 0, 0, ctor);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  if (o != NULL) return got_through("a constructor allocated from its own cache");
  return got_through("a constructor that allocates from its own cache");
}
