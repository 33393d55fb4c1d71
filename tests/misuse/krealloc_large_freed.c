/* krealloc of a large kmalloc block freed already (its frames back in the buddy). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(20000, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  krealloc(p, 40000, GFP_KERNEL);
  return got_through("krealloc of a freed large block");
}
