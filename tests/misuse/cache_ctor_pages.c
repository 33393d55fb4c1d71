/* A constructor that takes a page from the page allocator (not the slab
 * layer: allowed): objects work, and everything goes back. */
#include "misuse.h"
static pf_phys_t pages[4096];
static int n;
static void ctor(void* p) {
  pf_phys_t page = alloc_pages(0, GFP_KERNEL);
  CHECK(page != 0 && n < 4096);
  pages[n++] = page;
  *(pf_phys_t*)p = page;
}
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  struct kmem_cache* c = kmem_cache_create("ctor-pages", 64, 0, 0, ctor);
  CHECK(c != NULL);
  pf_phys_t* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL && *o != 0 && n > 0);
  CHECK(pf_verify() == 0);
  kmem_cache_free(c, o);
  CHECK(kmem_cache_destroy(c) == 0);
  for (int i = 0; i < n; ++i) free_pages(pages[i], 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
