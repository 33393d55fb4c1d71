/* kmalloc with a bit that is no __GFP_* flag (once silently ignored). */
#include "misuse.h"
int main(void) {
  misuse_up();
  kmalloc(64, GFP_KERNEL | 0x100u);
  return got_through("kmalloc with an unknown gfp bit");
}
