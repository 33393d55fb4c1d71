/* Two adjacent alloc_contig allocations freed as one. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t a = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  pf_phys_t b = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  CHECK(a != 0 && b != 0);
  CHECK(b == a + 5 * PAGE || a == b + 5 * PAGE);
  free_contig(a < b ? a : b, 10);
  return got_through("two contig allocations freed as one");
}
