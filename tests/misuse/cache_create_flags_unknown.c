/* kmem_cache_create with a flag bit pfalloc.h does not define. */
#include "misuse.h"
int main(void) {
  misuse_up();
  kmem_cache_create("flags", 64, 0, 0x80000000u, NULL);
  return got_through("kmem_cache_create with an unknown flag");
}
