/* pf_init's reserved list with entries of type PF_REGION_USABLE: over usable
 * memory, over the BIOS hole below 1 MiB, and past the map's end. Each is
 * recorded as reserved with a named warning (map-bad-input): a reservation
 * never turns a hole into memory nor gives its frames out. */
#include "misuse.h"
static pf_phys_t got[20000];
int main(void) {
  static const struct pf_region reserved[] = {
      {10 * MiB, 1 * MiB, PF_REGION_USABLE},
      {0xa0000, 0x50000, PF_REGION_USABLE},
      {70 * MiB, 1 * MiB, PF_REGION_USABLE},
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, misuse_map, 4, reserved, 3) == PF_OK);
  size_t n = 0;
  for (pf_phys_t p; n < 20000 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    CHECK(p + PAGE <= 10 * MiB || p >= 11 * MiB);
    CHECK(p + PAGE <= 0x9f000 || p >= 1 * MiB);
    CHECK(p + PAGE <= MISUSE_WINDOW_END);
  }
  CHECK(n > 10000 && n < 20000);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
