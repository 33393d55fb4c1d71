/* kmem_cache_free_bulk of a null array with a count (once a crash). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  kmem_cache_free_bulk(c, 4, NULL);
  return got_through("kmem_cache_free_bulk of a null array");
}
