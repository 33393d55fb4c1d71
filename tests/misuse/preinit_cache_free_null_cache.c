/* kmem_cache_free(NULL, p) before pf_init: refused by name. */
#include "misuse.h"
int main(void) {
  void* p = malloc(64);
  CHECK(p != NULL);
  memset(p, 1, 64);
  kmem_cache_free(NULL, p);
  return got_through("kmem_cache_free with no cache before pf_init");
}
