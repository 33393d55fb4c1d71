/* kfree(p) then kfree_sized(p, 1 MiB): a double free with a size that
 * is no class at all. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(64, GFP_KERNEL);
  void* keep = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL && keep != NULL);
  kfree(p);
  kfree_sized(p, 1 << 20);
  return got_through("a double free through kfree_sized with a huge size");
}
