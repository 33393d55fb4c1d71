/* pf_init with a direct_map_offset that is not a multiple of the page size
 * (the window's address plus 8, plus 2048): refused with PF_ERR_BAD_CONFIG,
 * nothing set up (was: a crash inside pf_init, an aligned store into
 * misaligned metadata); then pf_init with the window's own offset works. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.cpu_count = 2;
  const uintptr_t window = misuse_reserve_window();
  const uintptr_t odd[] = {8, 2048, 1, PAGE - 1};
  for (size_t i = 0; i < sizeof odd / sizeof odd[0]; ++i) {
    config.direct_map_offset = window + odd[i];
    CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_ERR_BAD_CONFIG);
    CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
    struct pf_counters c;
    pf_get_counters(&c);
    CHECK(c.managed_frames == 0);
  }
  config.direct_map_offset = window;
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_OK);
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL && ((uintptr_t)p & 63) == 0);
  kfree(p);
  CHECK(pf_verify() == 0);
  return 0;
}
