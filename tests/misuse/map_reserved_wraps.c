/* A reserved firmware region whose end wraps past 2^64: clipped, not dropped. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {17 * MiB, ~0ull - 4096, PF_REGION_ACPI_NVS}, /* wraps */
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 2, NULL, 0) == PF_OK);
  static pf_phys_t got[16384];
  size_t n = 0;
  for (pf_phys_t p; n < 16384 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    if (p >= 17 * MiB) return got_through("a frame under a wrapping ACPI NVS region was handed out");
  }
  CHECK(n > 0);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
