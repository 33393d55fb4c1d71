/* kmem_cache_free of a pointer past the managed window. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 100, 0, 0, NULL);
  CHECK(c != NULL);
  kmem_cache_free(c, (char*)phys_to_virt(MISUSE_WINDOW_END) + 64);
  return got_through("kmem_cache_free past the managed window");
}
