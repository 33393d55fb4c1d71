/* Hot-add with a gap above managed memory, then a range in that gap (below
 * the added one): refused (hotplug-below-managed-top), nothing changed. */
#include "misuse.h"
int main(void) {
  void* w = mmap(NULL, 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  CHECK(pf_add_memory(100 * MiB, 8 * MiB) == PF_OK);
  uint64_t before = free_frames();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_ERR_HOTPLUG_BELOW_TOP);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
