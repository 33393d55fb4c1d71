/* A constructor that calls pf_verify (it holds every CPU's arrays, this
 * CPU's too: was a deadlock). */
#include "misuse.h"
static void ctor(void* p) { *(int*)p = pf_verify(); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("ctor-verify", 64, 0, 0, ctor);
  CHECK(c != NULL);
  kmem_cache_alloc(c, GFP_KERNEL);
  return got_through("a constructor that calls pf_verify");
}
