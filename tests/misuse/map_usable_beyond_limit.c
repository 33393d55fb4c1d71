/* A usable region past 2^52 is dropped with a named warning; the rest of
 * the map is used. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {(1ull << 52) - 4096, 8192, PF_REGION_USABLE},
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 2, NULL, 0) == PF_OK);
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0 && p < 65 * MiB);
  free_pages(p, 0);
  return 0;
}
