/* pf_reclaim() between pf_fork_prepare and pf_fork_parent on the CPU that
 * holds the fork locks: refused by name (invalid-argument), nothing done
 * (was: a hang, the call waiting for a lock its own CPU held). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_fork_prepare();
  CHECK(pf_reclaim() == 0);
  pf_fork_parent();
  return got_through("pf_reclaim() while holding the fork locks");
}
