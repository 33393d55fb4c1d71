/* A use-after-free write over an object sitting in this CPU's array, then
 * two allocations: the object is handed out once, never twice (the write
 * itself is a debug-mode finding: SLAB_DEBUG poisons free objects). */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* keep = kmalloc(64, GFP_KERNEL);
  char* p = kmalloc(64, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree(p);
  memset(p, 0x41, 64);
  char* a = kmalloc(64, GFP_KERNEL);
  char* b = kmalloc(64, GFP_KERNEL);
  CHECK(a != NULL && b != NULL && a != b && a == p);
  kfree(a);
  kfree(b);
  kfree(keep);
  CHECK(pf_verify() == 0);
  return 0;
}
