/* free_contig with fewer frames than were allocated. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p, 3);
  return got_through("free_contig with the wrong count");
}
