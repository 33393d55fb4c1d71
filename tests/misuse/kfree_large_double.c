/* A large kmalloc block freed twice. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(20000, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  kfree(p);
  return got_through("second kfree of a large block");
}
