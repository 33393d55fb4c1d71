/* A frame in the BIOS hole below 1 MiB, never managed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(0xf0000, 0);
  return got_through("free_pages of a frame in the BIOS hole");
}
