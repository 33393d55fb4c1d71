/* kmem_cache_create with a size of SIZE_MAX. */
#include "misuse.h"
int main(void) {
  misuse_up();
  kmem_cache_create("huge", SIZE_MAX, 0, 0, NULL);
  return got_through("kmem_cache_create of SIZE_MAX bytes");
}
