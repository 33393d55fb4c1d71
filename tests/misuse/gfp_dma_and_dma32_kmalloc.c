/* kmalloc limited to two zones at once (__GFP_DMA | __GFP_DMA32). */
#include "misuse.h"
int main(void) {
  misuse_up();
  kmalloc(64, GFP_DMA | GFP_DMA32);
  return got_through("kmalloc with __GFP_DMA | __GFP_DMA32");
}
