/* alloc_contig of no frames. */
#include "misuse.h"
int main(void) {
  misuse_up();
  alloc_contig(0, 0, 0, 0, GFP_KERNEL);
  return got_through("alloc_contig of 0 frames");
}
