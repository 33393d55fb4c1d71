/* A reserved firmware region starting inside RAM and reaching past 2^52:
 * it must be clipped at the limit, not dropped; the RAM under it stays out. */
#include "misuse.h"
int main(void) {
  const struct pf_region map[] = {
      {1 * MiB, 64 * MiB, PF_REGION_USABLE},
      {33 * MiB, (1ull << 52), PF_REGION_RESERVED}, /* [33 MiB, 2^52 + 33 MiB) */
  };
  misuse_up_on(map, 2);
  if (misuse_any_frame_at_or_above(33 * MiB)) return got_through("a frame under a reserved region was handed out");
  return 0;
}
