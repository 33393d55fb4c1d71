/* A kmem_cache object freed by kfree (allowed), then by kmem_cache_free. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("both", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* p = kmem_cache_alloc(c, GFP_KERNEL);
  void* keep = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(p != NULL && keep != NULL);
  kfree(p);
  kmem_cache_free(c, p);
  return got_through("kfree then kmem_cache_free of one object");
}
