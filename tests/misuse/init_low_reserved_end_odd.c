/* pf_config.low_reserved_end at odd values: at or above every usable byte
 * (the map's end, 2^52, 2^63 + 1, ~0: no rounding past 2^64) is
 * PF_ERR_NO_USABLE_MEMORY with nothing set up; an unaligned one inside low
 * RAM (0x1234) keeps every frame below it, the partial frame included, and
 * manages the rest of low RAM. */
#include "misuse.h"
static pf_phys_t got[20000];
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  const uint64_t too_high[] = {MISUSE_WINDOW_END, 1ull << 52, (1ull << 63) + 1, ~0ull - PAGE + 2, ~0ull};
  for (size_t i = 0; i < sizeof too_high / sizeof too_high[0]; ++i) {
    config.low_reserved_end = too_high[i];
    CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_ERR_NO_USABLE_MEMORY);
    CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
  }
  config.low_reserved_end = 0x1234;
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_OK);
  size_t n = 0, low = 0;
  for (pf_phys_t p; n < 20000 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    CHECK(p >= 0x2000);
    low += p < 0x9f000;
  }
  CHECK(n > 0 && n < 20000 && low > 100); /* low RAM from 0x2000 is managed (less its descriptors) */
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
