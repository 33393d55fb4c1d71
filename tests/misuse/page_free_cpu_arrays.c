/* free_pages of a cache's per-CPU arrays, found as an outside tester
 * would: the two words that hold two just-freed objects' addresses. */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("arr", 200, 0, 0, NULL);
  CHECK(c != NULL);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  void* b = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(a != NULL && b != NULL);
  kmem_cache_free(c, a); /* the top two entries of this CPU's array */
  kmem_cache_free(c, b);
  uintptr_t* entry = misuse_find_pair(a, b);
  CHECK(entry != NULL);
  free_pages(virt_to_phys(entry) & ~(PAGE - 1), 0);
  return got_through("free_pages of a cache's per-CPU arrays");
}
