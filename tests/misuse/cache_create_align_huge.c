/* kmem_cache_create with an alignment of 2^63. */
#include "misuse.h"
int main(void) {
  misuse_up();
  kmem_cache_create("align", 64, (size_t)1 << 63, 0, NULL);
  return got_through("kmem_cache_create aligned to 2^63");
}
