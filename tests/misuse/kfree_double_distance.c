/* kfree(A), then thousands of other objects allocated and freed (the
 * arrays flush to the depot and the slabs), then kfree(A) again. A live
 * neighbour allocated with A keeps A's slab. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(96, GFP_KERNEL);
  void* a = kmalloc(96, GFP_KERNEL);
  CHECK(keep != NULL && a != NULL);
  kfree(a);
  static void* o[5000];
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5000; ++i) CHECK((o[i] = kmalloc(96, GFP_KERNEL)) != NULL);
    for (int i = 0; i < 5000; ++i) kfree(o[i]); /* A among them, if handed out again */
  }
  pf_reclaim();
  kfree(a);
  return got_through("a double free at distance");
}
