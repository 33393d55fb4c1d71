/* kmem_cache_destroy of a pointer inside a live cache's record. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("inside", 40, 0, 0, NULL);
  CHECK(c != NULL);
  kmem_cache_destroy((struct kmem_cache*)((char*)c + 64));
  return got_through("kmem_cache_destroy of the inside of a record");
}
