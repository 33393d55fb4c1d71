/* krealloc with an unknown gfp bit (even a shrink in place is refused). */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(128, GFP_KERNEL);
  CHECK(p != NULL);
  krealloc(p, 64, GFP_KERNEL | 0x800u);
  return got_through("krealloc with an unknown gfp bit");
}
