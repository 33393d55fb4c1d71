/* kmem_cache_free of a large kmalloc block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* p = kmalloc(5 * PAGE, GFP_KERNEL);
  CHECK(p != NULL);
  kmem_cache_free(c, p);
  return got_through("kmem_cache_free of a large kmalloc block");
}
