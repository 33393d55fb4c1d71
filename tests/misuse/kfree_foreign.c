/* kfree of memory pfalloc never managed (a frame in the BIOS hole). */
#include "misuse.h"
int main(void) {
  misuse_up();
  kfree(phys_to_virt(0xf0000));
  return got_through("kfree of a foreign pointer");
}
