/* ksize of an object whose slab pf_reclaim gave back. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(4096, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  pf_reclaim();
  ksize(p);
  return got_through("ksize after free");
}
