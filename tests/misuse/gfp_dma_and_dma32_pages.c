/* alloc_pages (an order the per-CPU caches do not serve) limited to two
 * zones at once. */
#include "misuse.h"
int main(void) {
  misuse_up();
  alloc_pages(5, GFP_DMA | GFP_DMA32);
  return got_through("alloc_pages with __GFP_DMA | __GFP_DMA32");
}
