/* pf_add_memory of ranges that end past the physical limit or wrap. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(pf_add_memory(0xfffffffffffff000ull, 0x2000) == PF_ERR_HOTPLUG_BEYOND_LIMIT);
  CHECK(pf_add_memory(1ull << 51, 1ull << 63) == PF_ERR_HOTPLUG_BEYOND_LIMIT);
  CHECK(free_frames() == before && pf_verify() == 0);
  return 0;
}
