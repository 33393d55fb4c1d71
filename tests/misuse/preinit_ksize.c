/* ksize before pf_init (was a crash: no descriptors to look it up in). */
#include "misuse.h"
int main(void) {
  static char buf[64];
  if (ksize(buf) != 0) return got_through("ksize gave a size before pf_init");
  return got_through("ksize before pf_init");
}
