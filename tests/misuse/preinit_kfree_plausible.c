/* kfree before pf_init of an address where the direct map would put an
 * object (the window is mapped, pf_init not called): refused by name. */
#include "misuse.h"
int main(void) {
  misuse_reserve_window();
  kfree(phys_to_virt(8 * MiB + 64));
  return got_through("kfree of a direct-map address before pf_init");
}
