/* A reserved entry inside a usable one, listed after it and (a second map)
 * before it, and a kernel range passed as `reserved`: no frame of either
 * is ever handed out, whatever the order of the entries. */
#include "misuse.h"
static pf_phys_t got[20000];
int main(void) {
  static const struct pf_region map[] = {
      {1 * MiB, 40 * MiB, PF_REGION_USABLE},
      {10 * MiB + 0x800, 0x1000, PF_REGION_RESERVED}, /* straddles two frames */
      {20 * MiB, 1 * MiB, PF_REGION_ACPI_NVS},
  };
  static const struct pf_region kernel[] = {{30 * MiB + 1, 2 * PAGE, PF_REGION_KERNEL}}; /* 3 frames */
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 3, kernel, 1) == PF_OK);
  size_t n = 0;
  for (pf_phys_t p; n < 20000 && (p = alloc_pages(0, __GFP_NOWARN | __GFP_NORETRY)) != 0; ++n) {
    got[n] = p;
    CHECK(p >= 1 * MiB && p + PAGE <= 41 * MiB);
    CHECK(!(p >= 10 * MiB && p < 10 * MiB + 2 * PAGE));
    CHECK(!(p >= 20 * MiB && p < 21 * MiB));
    CHECK(!(p >= 30 * MiB && p < 30 * MiB + 3 * PAGE));
  }
  CHECK(n > 0 && n < 20000);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
