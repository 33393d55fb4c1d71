/* A reserved firmware region starting inside RAM and reaching past 2^52:
 * it must be clipped at the limit, not dropped; the RAM under it stays out. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {33 * MiB, (1ull << 52), PF_REGION_RESERVED}, /* [33 MiB, 2^52 + 33 MiB) */
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 2, NULL, 0) == PF_OK);
  /* Take every frame: none may lie at or above 33 MiB. */
  static pf_phys_t got[16384];
  size_t n = 0;
  for (pf_phys_t p; n < 16384 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    if (p >= 33 * MiB) return got_through("a frame under a reserved region was handed out");
  }
  CHECK(n > 0 && n < 16384);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
