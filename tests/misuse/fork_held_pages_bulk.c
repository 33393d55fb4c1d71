/* alloc_pages_bulk(0, ..., 4, ...) between pf_fork_prepare and
 * pf_fork_parent on the CPU that holds the fork locks: refused by name
 * (invalid-argument), nothing done (was: a hang, the call waiting for a lock
 * its own CPU held). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_fork_prepare();
  pf_phys_t pages[4];
  CHECK(alloc_pages_bulk(0, GFP_KERNEL, 4, pages) == 0);
  pf_fork_parent();
  return got_through("alloc_pages_bulk(0, ..., 4, ...) while holding the fork locks");
}
