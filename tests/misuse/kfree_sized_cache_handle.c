/* kfree_sized of a kmem_cache handle with a kmalloc class size. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  CHECK(c != NULL);
  kfree_sized(c, 256);
  return got_through("kfree_sized of a kmem_cache handle");
}
