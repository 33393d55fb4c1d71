/* One block freed on two CPUs at the same moment: its home CPU (the one
 * that allocated it) and another one. One free takes it; the other is
 * reported at once, or, if its claim was overwritten by the home CPU's
 * plain free, when the home CPU's remote queue is collected (pf_reclaim). */
#include "misuse.h"
static pf_phys_t block;
static void take(void) {
  block = alloc_pages(0, GFP_KERNEL);
  CHECK(block != 0);
}
static void give(void) { free_pages(block, 0); }
int main(void) {
  misuse_up();
  on_two_threads_at_once(take, give);
  pf_reclaim();
  return got_through("free_pages of one block on two CPUs at once");
}
