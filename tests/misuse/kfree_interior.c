/* kfree of a pointer 8 bytes into a kmalloc object. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(100, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p + 8);
  return got_through("kfree of an interior pointer");
}
