/* A physical address the map never had (past the end of RAM). */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(0x200000000ull, 0);
  return got_through("free_pages of memory outside the map");
}
