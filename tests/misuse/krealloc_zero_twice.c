/* krealloc(p, 0) frees p; a second krealloc(p, 0) is a double free. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* keep = kmalloc(48, GFP_KERNEL);
  void* p = kmalloc(48, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  CHECK(krealloc(p, 0, GFP_KERNEL) == NULL);
  CHECK(krealloc(p, 0, GFP_KERNEL) == NULL);
  return got_through("krealloc(p, 0) twice");
}
