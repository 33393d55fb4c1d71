/* alloc_pages(0) with an unknown gfp bit when this CPU's page cache is
 * empty (the slow path judges the flags; a warm cache's fast path does not,
 * see pfalloc.h). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_drain_pages();
  alloc_pages(0, GFP_KERNEL | 0x200u);
  return got_through("alloc_pages with an unknown gfp bit");
}
