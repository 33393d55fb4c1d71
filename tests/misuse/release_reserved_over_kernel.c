/* Boot-loader memory with the kernel image (passed as `reserved`) inside
 * it: pf_release_reserved gives back the loader's frames, never the
 * kernel's. */
#include "misuse.h"
static pf_phys_t got[20000];
int main(void) {
  static const struct pf_region map[] = {
      {1 * MiB, 30 * MiB, PF_REGION_USABLE},
      {31 * MiB, 2 * MiB, PF_REGION_BOOTLOADER_RECLAIMABLE},
      {33 * MiB, 8 * MiB, PF_REGION_USABLE},
  };
  static const struct pf_region kernel[] = {{32 * MiB, 512 * 1024, PF_REGION_KERNEL}};
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 3, kernel, 1) == PF_OK);
  size_t released = pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE);
  CHECK(released <= 512 - 128);
  size_t n = 0;
  for (pf_phys_t p; n < 20000 && (p = alloc_pages(0, __GFP_NOWARN | __GFP_NORETRY)) != 0; ++n) {
    got[n] = p;
    CHECK(!(p >= 32 * MiB && p < 32 * MiB + 512 * 1024));
  }
  CHECK(n > 0 && n < 20000);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
