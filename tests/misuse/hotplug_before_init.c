/* pf_add_memory before pf_init, and after a pf_init that failed: refused
 * with PF_ERR_NOT_INITIALISED and a named warning, nothing set up (page
 * allocations still give 0); then pf_init and the same hot-add work. */
#include "misuse.h"
int main(void) {
  void* w = mmap(NULL, 96 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_ERR_NOT_INITIALISED);
  CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
  /* a failed pf_init: every frame of the map lies below low_reserved_end */
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_window;
  config.cpu_count = 2;
  config.low_reserved_end = MISUSE_WINDOW_END;
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_ERR_NO_USABLE_MEMORY);
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_ERR_NOT_INITIALISED);
  CHECK(pf_add_memory(0, 0) == PF_ERR_NOT_INITIALISED); /* judged before the arguments */
  CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
  struct pf_counters c;
  pf_get_counters(&c);
  CHECK(c.managed_frames == 0 && c.free_frames == 0);
  misuse_up();
  uint64_t before = free_frames();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_OK);
  CHECK(free_frames() > before && pf_verify() == 0);
  return 0;
}
