/* kfree(p); kfree(q); kfree(p): the second free of p is not on top of the
 * per-CPU array any more. The next allocations must never hand p out twice. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(40, GFP_KERNEL);
  void* q = kmalloc(40, GFP_KERNEL);
  CHECK(p != NULL && q != NULL);
  kfree(p);
  kfree(q);
  kfree(p);
  void* a = kmalloc(40, GFP_KERNEL);
  void* b = kmalloc(40, GFP_KERNEL);
  void* c = kmalloc(40, GFP_KERNEL);
  if (a == b || a == c || b == c) return got_through("one object handed out twice");
  return got_through("delayed double kfree");
}
