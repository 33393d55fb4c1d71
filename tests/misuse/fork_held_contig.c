/* alloc_contig(4, ...) between pf_fork_prepare and pf_fork_parent on the CPU
 * that holds the fork locks: refused by name (invalid-argument), nothing
 * done (was: a hang, the call waiting for a lock its own CPU held). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_fork_prepare();
  CHECK(alloc_contig(4, 0, 0, 0, GFP_KERNEL) == 0);
  pf_fork_parent();
  return got_through("alloc_contig(4, ...) while holding the fork locks");
}
