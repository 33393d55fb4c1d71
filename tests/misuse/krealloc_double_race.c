/* Two threads krealloc (grow) one object at the same moment: p is freed
 * twice, caught at a free or, after the caches are flushed, when the object
 * goes back to its slab. */
#include "misuse.h"
static void* p;
static void setup(void) { CHECK((p = kmalloc(64, GFP_KERNEL)) != NULL); }
static void go(void) { krealloc(p, 5000, GFP_KERNEL); }
int main(void) {
  misuse_up();
  for (int round = 0; round < 2000; ++round) on_two_threads_at_once(setup, go);
  pf_reclaim();
  return got_through("krealloc of one object on two threads at once");
}
