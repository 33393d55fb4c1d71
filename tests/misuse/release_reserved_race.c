/* Boot-loader memory released on two threads at the same moment: released
 * once (512 frames in all, the other call 0), nothing freed twice. */
#include "misuse.h"
static const struct pf_region map[] = {
    {0x0, 0x9fc00, PF_REGION_USABLE},
    {1 * MiB, 30 * MiB, PF_REGION_USABLE},
    {31 * MiB, 2 * MiB, PF_REGION_BOOTLOADER_RECLAIMABLE},
    {33 * MiB, 30 * MiB, PF_REGION_USABLE},
};
static size_t got[2];
static int which;
static void nothing(void) {}
static void go(void) {
  size_t n = pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE);
  got[__atomic_fetch_add(&which, 1, __ATOMIC_ACQ_REL)] = n;
}
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 2;
  CHECK(pf_init(&config, map, sizeof map / sizeof map[0], NULL, 0) == PF_OK);
  uint64_t before = free_frames();
  on_two_threads_at_once(nothing, go);
  CHECK(got[0] + got[1] == 512 && (got[0] == 0 || got[1] == 0));
  CHECK(free_frames() == before + 512);
  CHECK(pf_verify() == 0);
  return 0;
}
