/* pf_get_counters with nowhere to write (once a crash). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_get_counters(NULL);
  return got_through("pf_get_counters(NULL)");
}
