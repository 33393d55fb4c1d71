/* ksize of an interior pointer. */
#include "misuse.h"
int main(void) {
  misuse_up();
  char* p = kmalloc(100, GFP_KERNEL);
  CHECK(p != NULL);
  (void)ksize(p + 8);
  return got_through("ksize of an interior pointer");
}
