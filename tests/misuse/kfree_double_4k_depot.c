/* 4 KiB objects (link slots spread over the object's lines): kfree(A), a
 * burst through the depot, kfree(A). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(4096, GFP_KERNEL);
  void* a = kmalloc(4096, GFP_KERNEL);
  CHECK(keep != NULL && a != NULL);
  kfree(a);
  static void* o[600];
  for (int i = 0; i < 600; ++i) CHECK((o[i] = kmalloc(4096, GFP_KERNEL)) != NULL);
  for (int i = 0; i < 600; ++i) kfree(o[i]);
  kfree(a);
  return got_through("a double free at distance of a 4 KiB object");
}
