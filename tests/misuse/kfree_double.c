/* kfree twice in a row. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(40, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  kfree(p);
  return got_through("second kfree of one object");
}
