/* ksize of an object just freed (sitting in this CPU's array, its slab in
 * use): once it returned the size as if the object were live. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(64, GFP_KERNEL);
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree(p);
  ksize(p);
  return got_through("ksize of a freed object");
}
