/* Every defined gfp bit, alone and together (one zone limit at most), is
 * accepted by every call that takes flags: no report, nothing lost. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  const gfp_t extra[] = {0, __GFP_ZERO, __GFP_THISZONE, __GFP_NOWARN, __GFP_NORETRY, __GFP_NORECLAIM,
                         __GFP_ZERO | __GFP_NOWARN | __GFP_NORETRY | __GFP_NORECLAIM};
  const gfp_t zone[] = {0, __GFP_DMA, __GFP_DMA32};
  struct kmem_cache* c = kmem_cache_create("gfp", 48, 0, 0, NULL);
  CHECK(c != NULL);
  for (unsigned z = 0; z < 3; ++z)
    for (unsigned e = 0; e < sizeof extra / sizeof extra[0]; ++e) {
      const gfp_t f = zone[z] | extra[e];
      if (z == 0 && (f & __GFP_THISZONE)) continue; /* this map has no Normal zone: out of memory */
      void* o = kmalloc(100, f);
      CHECK(o != NULL);
      kfree(o);
      pf_phys_t p = alloc_pages(2, f);
      CHECK(p != 0);
      free_pages(p, 2);
      p = alloc_contig(3, 0, 0, 0, f);
      CHECK(p != 0);
      free_contig(p, 3);
      o = kmem_cache_alloc(c, f);
      CHECK(o != NULL);
      kmem_cache_free(c, o);
    }
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
