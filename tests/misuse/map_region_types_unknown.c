/* Region types outside enum pf_region_type (0, 8, 0x80000001, ~0), in the
 * firmware map over usable memory and in the reserved list: each counts as
 * reserved (a reserved-list entry of type 0 as the kernel's), so none of
 * their frames is ever handed out; nothing is named, pf_init succeeds. */
#include "misuse.h"
static pf_phys_t got[20000];
int main(void) {
  static const struct pf_region map[] = {
      {0x0, 0x9fc00, PF_REGION_USABLE},
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {10 * MiB, 1 * MiB, 0},
      {20 * MiB, 1 * MiB, 8},
      {30 * MiB, 1 * MiB, 0x80000001u},
      {40 * MiB, 1 * MiB, 0xffffffffu},
  };
  static const struct pf_region reserved[] = {
      {50 * MiB, 1 * MiB, 0},
      {52 * MiB, 1 * MiB, 0xffffffffu},
      {54 * MiB, 1 * MiB, 99},
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, sizeof map / sizeof map[0], reserved, 3) == PF_OK);
  static const pf_phys_t holes[] = {10 * MiB, 20 * MiB, 30 * MiB, 40 * MiB, 50 * MiB, 52 * MiB, 54 * MiB};
  size_t n = 0;
  for (pf_phys_t p; n < 20000 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    for (size_t h = 0; h < sizeof holes / sizeof holes[0]; ++h) CHECK(p + PAGE <= holes[h] || p >= holes[h] + MiB);
  }
  CHECK(n > 10000 && n < 20000);
  /* No type releases them: the unknown ones are not reclaimable. */
  CHECK(pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE) == 0);
  CHECK(pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE) == 0);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
