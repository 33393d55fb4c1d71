/* ksize of a kmem_cache handle (a record of the allocator's own). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("handle", 40, 0, 0, NULL);
  CHECK(c != NULL);
  ksize(c);
  return got_through("ksize of a kmem_cache handle");
}
