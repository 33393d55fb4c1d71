/* kfree of a pointer inside a large kmalloc block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(20000, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p + PAGE);
  return got_through("kfree inside a large block");
}
