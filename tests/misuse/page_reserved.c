/* A reserved frame inside a managed range: the descriptor array of the
 * 16 MiB..65 MiB range. Bootmem places a range's descriptors at the lowest
 * address of the range itself when it is not DMA memory (bootmem.hpp), so
 * the frame at 16 MiB holds descriptors. */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(16 * MiB, 0);
  return got_through("free_pages of a reserved (descriptor) frame");
}
