/* krealloc of a pointer 8 bytes into a kmalloc object. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL);
  krealloc(p + 8, 128, GFP_KERNEL);
  return got_through("krealloc of an interior pointer");
}
