/* One order-5 block freed on two CPUs at the same moment (the zone lock's
 * path, no per-CPU cache), many rounds. */
#include "misuse.h"
static pf_phys_t p;
static void take(void) { CHECK((p = alloc_pages(5, GFP_KERNEL)) != 0); }
static void give(void) { free_pages(p, 5); }
int main(void) {
  misuse_up();
  for (int round = 0; round < 3000; ++round) on_two_threads_at_once(take, give);
  return got_through("an order-5 block freed on two CPUs at once");
}
