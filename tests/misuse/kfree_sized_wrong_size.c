/* kfree_sized told more than the object holds: refused by name. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(40, GFP_KERNEL);
  CHECK(p != NULL);
  kfree_sized(p, 4000);
  return got_through("kfree_sized with a size above ksize");
}
