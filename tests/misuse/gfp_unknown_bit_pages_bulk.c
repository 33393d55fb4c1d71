/* alloc_pages_bulk with an unknown gfp bit: judged before anything is taken. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t pages[8];
  alloc_pages_bulk(0, GFP_KERNEL | 0x400u, 8, pages);
  return got_through("alloc_pages_bulk with an unknown gfp bit");
}
