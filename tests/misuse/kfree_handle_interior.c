/* kfree of a pointer 64 bytes into a kmem_cache record. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 100, 0, 0, NULL);
  CHECK(c != NULL);
  kfree((char*)c + 64);
  return got_through("kfree inside a kmem_cache record");
}
