/* Not misuse (pfalloc.h: page calls are allowed in a constructor):
 * pf_drain_pages, alloc_contig/free_contig, pf_get_counters,
 * pf_format_buddyinfo from a constructor. */
#include "misuse.h"
static int ran;
static void ctor(void* o) {
  (void)o;
  if (ran++ != 0) return;
  pf_drain_pages();
  pf_phys_t p = alloc_contig(3, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p, 3);
  struct pf_counters c;
  pf_get_counters(&c);
  CHECK(c.free_frames > 0);
  char buf[512];
  CHECK(pf_format_buddyinfo(buf, sizeof buf) > 0);
}
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("c", 64, 0, 0, ctor);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL && ran > 0);
  kmem_cache_free(c, o);
  CHECK(kmem_cache_destroy(c) == 0 && pf_verify() == 0);
  return 0;
}
