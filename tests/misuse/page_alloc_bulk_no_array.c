/* alloc_pages_bulk with no array for the blocks (once a crash). */
#include "misuse.h"
int main(void) {
  misuse_up();
  alloc_pages_bulk(0, GFP_KERNEL, 4, NULL);
  return got_through("alloc_pages_bulk into a null array");
}
