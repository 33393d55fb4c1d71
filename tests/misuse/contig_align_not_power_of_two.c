/* alloc_contig with an alignment that is no power of two. */
#include "misuse.h"
int main(void) {
  misuse_up();
  alloc_contig(4, 3 * PAGE, 0, 0, GFP_KERNEL);
  return got_through("alloc_contig with align 3 pages");
}
