/* pf_fork_parent / pf_fork_child with no prepare before them: nothing
 * happens (no lock released that was not taken); the allocator works on. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  pf_fork_parent();
  pf_fork_child();
  pf_fork_prepare();
  pf_fork_parent();
  pf_fork_parent();
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL);
  kfree(p);
  pf_phys_t q = alloc_pages(5, GFP_KERNEL);
  CHECK(q != 0);
  free_pages(q, 5);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
