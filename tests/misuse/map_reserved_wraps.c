/* A reserved firmware region whose end wraps past 2^64: clipped, not dropped. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {17 * MiB, ~0ull - 4096, PF_REGION_ACPI_NVS}, /* wraps */
  };
  misuse_up_on(map, 2);
  if (misuse_any_frame_at_or_above(17 * MiB)) return got_through("a frame under a wrapping ACPI NVS region was handed out");
  return 0;
}
