/* free_contig from the second frame of an allocation. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  CHECK(p != 0);
  free_contig(p + PAGE, 4);
  return got_through("free_contig from a frame that is not the start");
}
