/* pf_add_memory over a range pf_init was given as reserved that lies in a
 * hole of the firmware map, above managed memory (a kernel image or module
 * loaded where the map says nothing): refused with PF_ERR_HOTPLUG_OVERLAP
 * and a named warning, nothing changed (was: accepted, and the reserved
 * frames handed out). A range below the reservation is accepted, and none
 * of its frames lies in it. */
#include "misuse.h"
static pf_phys_t got[32768];
int main(void) {
  void* w = mmap(NULL, 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  static const struct pf_region reserved[] = {
      {2 * MiB, 1 * MiB, PF_REGION_KERNEL},
      {80 * MiB + 100, 4096, PF_REGION_KERNEL}, /* unaligned: widened to its frames */
      {96 * MiB, 1 * MiB, PF_REGION_BOOTLOADER_RECLAIMABLE},
  };
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_window;
  config.cpu_count = 2;
  CHECK(pf_init(&config, misuse_map, 4, reserved, 3) == PF_OK);
  uint64_t before = free_frames();
  CHECK(pf_add_memory(72 * MiB, 32 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(80 * MiB, 4096) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(80 * MiB + 4096, 4096) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(pf_add_memory(88 * MiB, 16 * MiB) == PF_ERR_HOTPLUG_OVERLAP);
  CHECK(free_frames() == before && pf_verify() == 0);
  CHECK(pf_add_memory(72 * MiB, 8 * MiB) == PF_OK);
  size_t n = 0;
  for (pf_phys_t p; n < 32768 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    CHECK(p < 80 * MiB);
  }
  CHECK(n > 16384 && n < 32768); /* the added frames were handed out too */
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE) == 0);
  CHECK(pf_verify() == 0);
  return 0;
}
