/* Before pf_init, the frees of NULL do nothing (as after it): no report;
 * then pf_init works as usual. */
#include "misuse.h"
int main(void) {
  kfree(NULL);
  kfree_sized(NULL, 64);
  kfree_sized(NULL, 100000);
  kmem_cache_free(NULL, NULL);
  kmem_cache_free((struct kmem_cache*)(uintptr_t)0xdead0000beef0ull, NULL);
  CHECK(pf_verify() == 0);
  misuse_up();
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  CHECK(pf_verify() == 0);
  return 0;
}
