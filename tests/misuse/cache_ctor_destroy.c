/* A constructor that destroys another cache: refused by name. */
#include "misuse.h"
static struct kmem_cache* other;
static void ctor(void* o) { (void)o; kmem_cache_destroy(other); }
int main(void) {
  misuse_up();
  other = kmem_cache_create("other", 64, 0, 0, NULL);
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, ctor);
  CHECK(other != NULL && c != NULL);
  kmem_cache_alloc(c, GFP_KERNEL);
  return got_through("kmem_cache_destroy from a constructor");
}
