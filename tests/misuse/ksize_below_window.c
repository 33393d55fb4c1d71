/* ksize of a pointer below the direct map. */
#include "misuse.h"
int main(void) {
  misuse_up();
  if (ksize((char*)phys_to_virt(0) - 4096) != 0) return got_through("ksize gave a size");
  return got_through("ksize below the direct map");
}
