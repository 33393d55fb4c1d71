/* A delayed double free with one live neighbour, then a shrink: the slab
 * still holding the object must not go back to the page allocator. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* live = kmalloc(200, GFP_KERNEL);
  void* p = kmalloc(200, GFP_KERNEL);
  void* q = kmalloc(200, GFP_KERNEL);
  CHECK(live != NULL && p != NULL && q != NULL);
  kfree(p);
  kfree(q);
  kfree(p);
  pf_reclaim();
  CHECK(pf_verify() == 0);
  return got_through("delayed double kfree, then reclaim");
}
