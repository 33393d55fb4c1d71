/* One object freed by kfree on one CPU and kfree_sized on the other at the
 * same moment, many rounds, then the caches flushed. */
#include "misuse.h"
static void* p;
static void* keep;
static int turn;
static void take(void) { CHECK((p = kmalloc(128, GFP_KERNEL)) != NULL && (keep = kmalloc(128, GFP_KERNEL)) != NULL); }
static void give(void) {
  if (__atomic_fetch_add(&turn, 1, __ATOMIC_ACQ_REL) % 2 == 0) kfree(p);
  else kfree_sized(p, 128);
}
int main(void) {
  misuse_up();
  for (int round = 0; round < 2000; ++round) on_two_threads_at_once(take, give);
  pf_reclaim();
  return got_through("kfree and kfree_sized of one object on two CPUs at once");
}
