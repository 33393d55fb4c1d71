/* free_contig with a count of SIZE_MAX frames. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p, SIZE_MAX);
  return got_through("free_contig with SIZE_MAX frames");
}
