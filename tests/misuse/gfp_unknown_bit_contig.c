/* alloc_contig with an unknown gfp bit. */
#include "misuse.h"
int main(void) {
  misuse_up();
  alloc_contig(3, 0, 0, 0, GFP_KERNEL | 0x1000u);
  return got_through("alloc_contig with an unknown gfp bit");
}
