/* ksize of a slab's header. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uintptr_t* found = misuse_slab_header(64, NULL);
  if (ksize(found) != 0) return got_through("ksize gave a slab header a size");
  return got_through("ksize of a slab header");
}
