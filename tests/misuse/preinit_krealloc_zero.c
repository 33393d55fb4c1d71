/* krealloc(p, 0) before pf_init (it frees p: was a crash). */
#include "misuse.h"
int main(void) {
  static char buf[64];
  krealloc(buf, 0, GFP_KERNEL);
  return got_through("krealloc before pf_init");
}
