/* krealloc(p, 0) of a large block, twice. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(40000, GFP_KERNEL);
  CHECK(p != NULL);
  CHECK(krealloc(p, 0, GFP_KERNEL) == NULL);
  CHECK(krealloc(p, 0, GFP_KERNEL) == NULL);
  return got_through("krealloc(large, 0) twice");
}
