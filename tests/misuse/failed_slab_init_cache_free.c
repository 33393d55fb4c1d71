/* kmem_cache_free after a pf_init that failed in the slab layer (see
 * failed_slab_init_kfree), with a handle that never was a cache: refused
 * by name, the handle not read. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {{1 * MiB, 16 * PAGE, PF_REGION_USABLE}};
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 1, NULL, 0) == PF_ERR_NO_USABLE_MEMORY);
  kmem_cache_free((struct kmem_cache*)(uintptr_t)0xdead0000beef0ull, phys_to_virt(1 * MiB + 8 * PAGE));
  return got_through("kmem_cache_free after a pf_init that failed in the slab layer");
}
