/* 257 firmware regions: one more than the table holds. pf_init refuses with
 * PF_ERR_MAP_CAPACITY and a named warning, and can be retried with a map
 * that fits. */
#include "misuse.h"
int main(void) {
  static struct pf_region map[257];
  for (int i = 0; i < 257; ++i) {
    map[i].base = 1 * MiB + (uint64_t)i * 128 * 1024;
    map[i].length = 64 * 1024;
    map[i].type = PF_REGION_USABLE;
  }
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 257, NULL, 0) == PF_ERR_MAP_CAPACITY);
  CHECK(pf_init(&config, misuse_map, 4, NULL, 0) == PF_OK);
  CHECK(alloc_pages(0, GFP_KERNEL) != 0);
  return 0;
}
