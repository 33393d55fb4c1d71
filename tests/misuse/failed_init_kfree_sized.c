/* kfree_sized after a failed pf_init (a map with nothing usable): refused
 * by name. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {{1 * MiB, 64 * MiB, PF_REGION_RESERVED}};
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 1, NULL, 0) == PF_ERR_NO_USABLE_MEMORY);
  kfree_sized(phys_to_virt(8 * MiB), 64);
  return got_through("kfree_sized after a failed pf_init");
}
