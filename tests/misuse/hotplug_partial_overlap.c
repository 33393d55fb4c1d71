/* After a hot-add of [80, 88) MiB: ranges that overlap it partly, from
 * above and from below, and one that holds it whole: refused, nothing
 * changed. */
#include "misuse.h"
int main(void) {
  void* w = mmap(NULL, 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_OK);
  uint64_t before = free_frames();
  CHECK(pf_add_memory(84 * MiB, 8 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(76 * MiB, 8 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(72 * MiB, 32 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(87 * MiB, PAGE) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(free_frames() == before && pf_verify() == 0);
  /* Adjacent above is fine; its frames work. */
  CHECK(pf_add_memory(88 * MiB, 8 * MiB) == PF_OK);
  CHECK(pf_verify() == 0);
  return 0;
}
