/* The same range hot-added twice: the second is refused as an overlap. */
#include "misuse.h"
int main(void) {
  void* w = mmap(NULL, 96 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_OK);
  uint64_t before = free_frames();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
