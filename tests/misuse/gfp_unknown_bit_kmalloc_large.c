/* kmalloc of a whole-page size with the top gfp bit set. */
#include "misuse.h"
int main(void) {
  misuse_up();
  kzalloc(64 * 1024, 0x80000000u);
  return got_through("kzalloc of 64 KiB with an unknown gfp bit");
}
