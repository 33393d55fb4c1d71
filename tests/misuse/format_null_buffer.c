/* pf_format_slabinfo into a null buffer with a nonzero size (once a crash);
 * size 0 with no buffer is fine and writes nothing. */
#include "misuse.h"
int main(void) {
  misuse_up();
  CHECK(pf_format_buddyinfo(NULL, 0) == 0);
  CHECK(pf_format_slabinfo(NULL, 0) == 0);
  pf_format_slabinfo(NULL, 4096);
  return got_through("pf_format_slabinfo(NULL, 4096)");
}
