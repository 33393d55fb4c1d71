/* free_pages of the first frame past the managed window (65 MiB). */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(MISUSE_WINDOW_END, 0);
  return got_through("free_pages just past managed memory");
}
