/* kfree_sized(p, 0) twice (size 0: freed as kfree frees it). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(200, GFP_KERNEL);
  void* p = kmalloc(200, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree_sized(p, 0);
  kfree_sized(p, 0);
  return got_through("kfree_sized(p, 0) twice");
}
