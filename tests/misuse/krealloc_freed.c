/* krealloc of an object freed already. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  krealloc(p, 128, GFP_KERNEL);
  return got_through("krealloc of a freed object");
}
