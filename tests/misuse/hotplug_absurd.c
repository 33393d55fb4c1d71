/* pf_add_memory of absurd ranges: frame 0, nothing at all, one frame
 * straddling the top of managed memory, a frame at the physical limit,
 * the whole 2^52 space, the last frame of the 64-bit space: each refused
 * with its pf_status, nothing changed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(pf_add_memory(0, PAGE) == PF_ERR_HOTPLUG_BELOW_TOP);
  CHECK(pf_add_memory(0, 0) == PF_ERR_HOTPLUG_TOO_SMALL);
  CHECK(pf_add_memory(MISUSE_WINDOW_END - PAGE, 2 * PAGE) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(1ull << 52, PAGE) == PF_ERR_HOTPLUG_BEYOND_LIMIT);
  int all = pf_add_memory(0, 1ull << 52);
  CHECK(all == PF_ERR_HOTPLUG_OVERLAP || all == PF_ERR_HOTPLUG_BELOW_TOP);
  CHECK(pf_add_memory(~(pf_phys_t)0 & ~(pf_phys_t)(PAGE - 1), PAGE) == PF_ERR_HOTPLUG_BEYOND_LIMIT);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
