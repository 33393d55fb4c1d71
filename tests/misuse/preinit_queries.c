/* Before pf_init: pf_reclaim (was a crash), pf_drain_pages, pf_verify,
 * the counters and the text formats answer with nothing; page allocations
 * give 0. */
#include "misuse.h"
int main(void) {
  CHECK(pf_reclaim() == 0);
  pf_drain_pages();
  CHECK(pf_verify() == 0);
  struct pf_counters c;
  pf_get_counters(&c);
  CHECK(c.managed_frames == 0 && c.free_frames == 0);
  char text[4096];
  pf_format_buddyinfo(text, sizeof text);
  pf_format_slabinfo(text, sizeof text);
  CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
  CHECK(alloc_contig(4, 0, 0, 0, __GFP_NOWARN) == 0);
  pf_phys_t pages[4];
  CHECK(alloc_pages_bulk(0, __GFP_NOWARN, 4, pages) == 0);
  CHECK(pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE) == 0);
  /* Then pf_init works as usual. */
  misuse_up();
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  CHECK(pf_verify() == 0);
  return 0;
}
