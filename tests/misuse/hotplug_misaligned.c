/* pf_add_memory with a base, then a length, that is no multiple of 4096. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(pf_add_memory(128 * MiB + 1, 16 * MiB) == PF_ERR_HOTPLUG_MISALIGNED);
  CHECK(pf_add_memory(128 * MiB, 16 * MiB + 5) == PF_ERR_HOTPLUG_MISALIGNED);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
