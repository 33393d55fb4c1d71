/* kfree after a pf_init that failed in the slab layer (16 frames: room for
 * the page allocator's metadata, not for the kmalloc caches; the page
 * allocator stays set up) of an address in that memory: refused by name
 * (was a crash: the slab layer looked it up through the page allocator's
 * table, then through its own cleared pointer to the page allocator). */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {{1 * MiB, 16 * PAGE, PF_REGION_USABLE}};
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 1, NULL, 0) == PF_ERR_NO_USABLE_MEMORY);
  kfree(phys_to_virt(1 * MiB + 8 * PAGE));
  return got_through("kfree after a pf_init that failed in the slab layer");
}
