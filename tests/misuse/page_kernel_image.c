/* A frame of the kernel image (kept out of the managed ranges) handed to free_pages. */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(MISUSE_KERNEL_IMAGE + 4 * PAGE, 0);
  return got_through("free_pages of the kernel image");
}
