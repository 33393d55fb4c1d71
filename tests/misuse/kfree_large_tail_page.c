/* kfree of the exact start of a large kmalloc block's third page. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(8 * PAGE, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p + 3 * PAGE);
  return got_through("kfree of a large block's tail page");
}
