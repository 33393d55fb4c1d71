/* One object freed on two CPUs at the same moment (kfree_double_two_cpus
 * frees it on one CPU, then on the other), then the caches flushed: caught
 * at a free or when the object goes back to its slab. */
#include "misuse.h"
static void* object;
static void* other;
static void take(void) {
  object = kmalloc(64, GFP_KERNEL);
  other = kmalloc(64, GFP_KERNEL); /* a live neighbour keeps the slab */
  CHECK(object != NULL && other != NULL);
}
static void give(void) { kfree(object); }
int main(void) {
  misuse_up();
  on_two_threads_at_once(take, give);
  pf_reclaim();
  kfree(other);
  pf_reclaim();
  return got_through("one object freed on two CPUs at once");
}
