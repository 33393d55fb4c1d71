/* A usable region past 2^52 is dropped with a named warning; the rest of
 * the map is used. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {(1ull << 52) - 4096, 8192, PF_REGION_USABLE},
  };
  misuse_up_on(map, 2);
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0 && p < 65 * MiB);
  free_pages(p, 0);
  return 0;
}
