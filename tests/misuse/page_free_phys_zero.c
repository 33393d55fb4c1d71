/* free_pages(0, 0): 0 is "no memory" in pfalloc.h, frame 0 always reserved. */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(0, 0);
  return got_through("free_pages of physical address 0");
}
