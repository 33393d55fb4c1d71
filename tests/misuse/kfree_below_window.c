/* kfree of a pointer just below the direct map (physical "-8"). */
#include "misuse.h"
int main(void) {
  misuse_up();
  kfree((char*)phys_to_virt(0) - 8);
  return got_through("kfree below the direct map");
}
