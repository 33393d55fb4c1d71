/* kfree_sized(p, 64) then kfree_sized(p, 8): the second free lies about
 * the size (another class) and is a double free. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(64, GFP_KERNEL);
  void* keep = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL && keep != NULL);
  kfree_sized(p, 64);
  kfree_sized(p, 8);
  return got_through("a double kfree_sized with a smaller size");
}
