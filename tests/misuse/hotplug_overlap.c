/* pf_add_memory over memory the allocator manages (inside, then across
 * its top end): refused, nothing changed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(pf_add_memory(32 * MiB, 16 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(64 * MiB, 2 * MiB) == PF_ERR_HOTPLUG_OVERLAP); /* straddles the top */
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
