/* pf_add_memory of size 0, an unaligned size, an unaligned base: refused
 * with a pf_status and a warning, nothing changed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(pf_add_memory(128 * MiB, 0) == PF_ERR_HOTPLUG_TOO_SMALL);
  CHECK(pf_add_memory(128 * MiB, 4 * MiB + 1) == PF_ERR_HOTPLUG_MISALIGNED);
  CHECK(pf_add_memory(128 * MiB + 512, 4 * MiB) == PF_ERR_HOTPLUG_MISALIGNED);
  CHECK(pf_add_memory(128 * MiB, PAGE) == PF_ERR_HOTPLUG_TOO_SMALL); /* no room for its metadata */
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
