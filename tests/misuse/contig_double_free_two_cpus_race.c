/* One alloc_contig range freed on two CPUs at the same moment. */
#include "misuse.h"
static pf_phys_t range;
static void take(void) {
  range = alloc_contig(7, 0, 0, 0, GFP_KERNEL);
  CHECK(range != 0);
}
static void give(void) { free_contig(range, 7); }
int main(void) {
  misuse_up();
  on_two_threads_at_once(take, give);
  pf_reclaim();
  return got_through("free_contig of one range on two CPUs at once");
}
