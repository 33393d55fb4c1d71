/* kfree_sized of a malloc'd buffer before pf_init, with a size above every
 * kmalloc class (straight to the slow path): refused by name. */
#include "misuse.h"
int main(void) {
  void* p = malloc(100000);
  CHECK(p != NULL);
  memset(p, 1, 64);
  kfree_sized(p, 100000);
  return got_through("kfree_sized of a large size before pf_init");
}
