/* kfree_sized twice, the second after another free (not on top of the
 * per-CPU array any more): named as kfree names it. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(40, GFP_KERNEL);
  void* q = kmalloc(40, GFP_KERNEL);
  CHECK(p != NULL && q != NULL);
  kfree_sized(p, 40);
  kfree_sized(q, 40);
  kfree_sized(p, 40);
  return got_through("delayed double kfree_sized");
}
