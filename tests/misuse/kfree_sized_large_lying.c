/* kfree_sized of a large block with a size above its ksize. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(3 * PAGE, GFP_KERNEL);
  CHECK(p != NULL);
  kfree_sized(p, 64 * PAGE);
  return got_through("kfree_sized of a large block with a too big size");
}
