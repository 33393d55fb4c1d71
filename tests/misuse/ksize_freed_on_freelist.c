/* ksize of an object freed and back on its slab's freelist (a live
 * neighbour keeps the slab). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(512, GFP_KERNEL);
  void* p = kmalloc(512, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree(p);
  pf_reclaim();
  if (ksize(p) != 0) return got_through("ksize of a freed object gave a size");
  return got_through("ksize of an object on its freelist");
}
