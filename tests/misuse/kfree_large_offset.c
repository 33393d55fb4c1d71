/* kfree of a large kmalloc block's start plus 8 bytes. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(3 * PAGE, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p + 8);
  return got_through("kfree of a large block plus 8");
}
