/* kmem_cache_create() between pf_fork_prepare and pf_fork_parent on the CPU
 * that holds the fork locks: refused by name (invalid-argument), nothing
 * done (was: a hang, the call waiting for a lock its own CPU held). */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_fork_prepare();
  CHECK(kmem_cache_create("late", 64, 0, 0, NULL) == NULL);
  pf_fork_parent();
  return got_through("kmem_cache_create() while holding the fork locks");
}
