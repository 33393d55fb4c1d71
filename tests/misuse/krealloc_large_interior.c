/* krealloc of a pointer one page into a large kmalloc block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(20000, GFP_KERNEL);
  CHECK(p != NULL);
  krealloc(p + PAGE, 40000, GFP_KERNEL);
  return got_through("krealloc of the inside of a large block");
}
