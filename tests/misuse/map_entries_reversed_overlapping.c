/* A map given in reverse order with overlapping usable entries, a reserved
 * entry listed first that overlaps them, and unaligned edges: every frame
 * handed out lies wholly inside usable memory and outside the reserved
 * entry; the usable memory is counted once. */
#include "misuse.h"
static pf_phys_t got[20000];
int main(void) {
  static const struct pf_region map[] = {
      {12 * MiB, 3 * MiB, PF_REGION_RESERVED},
      {8 * MiB + 123, 20 * MiB, PF_REGION_USABLE},      /* [8M+123, 28M+123) */
      {1 * MiB + 7, 10 * MiB, PF_REGION_USABLE},         /* overlaps the next */
      {1 * MiB + 7, 10 * MiB, PF_REGION_USABLE},         /* the same twice */
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, 4, NULL, 0) == PF_OK);
  struct pf_counters c;
  pf_get_counters(&c);
  /* usable: [1M+7, 28M+123) less [12M, 15M): whole frames [1M+4K, 12M) and [15M, 28M) */
  uint64_t whole = (12 * MiB - (1 * MiB + PAGE)) / PAGE + (28 * MiB - 15 * MiB) / PAGE;
  CHECK(c.managed_frames + c.reserved_frames <= whole);
  size_t n = 0;
  for (pf_phys_t p; n < 20000 && (p = alloc_pages(0, __GFP_NOWARN | __GFP_NORETRY)) != 0; ++n) {
    got[n] = p;
    CHECK(p >= 1 * MiB + PAGE && p + PAGE <= 28 * MiB);
    CHECK(!(p + PAGE > 12 * MiB && p < 15 * MiB));
  }
  CHECK(n > 0 && n < 20000);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return 0;
}
