/* kfree_sized of an object of a kmem_cache of 64-byte objects with size 64
 * (a kmalloc class size): freed into its own cache, nothing lost, the
 * cache destroys clean. Not misuse (pfalloc.h: a size of another class is
 * freed as kfree frees it when size <= ksize). */
#include "misuse.h"
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("k64", 64, 0, 0, NULL);
  CHECK(c != NULL);
  void* o[100];
  for (int i = 0; i < 100; ++i) CHECK((o[i] = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
  for (int i = 0; i < 100; ++i) kfree_sized(o[i], 64);
  CHECK(pf_verify() == 0);
  /* none of them went to kmalloc-64's arrays */
  for (int i = 0; i < 100; ++i) CHECK(kmalloc(64, GFP_KERNEL) != o[i]);
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(pf_verify() == 0);
  return 0;
}
