/* The largest map intake accepts: 256 regions and 64 reservations, each
 * cutting a range, across the DMA and DMA32 zone limits. pf_init must take
 * what the memory map took. */
#include "misuse.h"
int main(void) {
  static struct pf_region map[256], reserved[64];
  /* 256 usable regions of 192 KiB with 64 KiB gaps, from 1 MiB: 64 MiB span
   * crossing 16 MiB (a zone cut inside one range). */
  for (int i = 0; i < 256; ++i) {
    map[i].base = 1 * MiB + (uint64_t)i * 256 * 1024;
    map[i].length = 192 * 1024;
    map[i].type = PF_REGION_USABLE;
  }
  /* 64 reservations, each splitting one region in two. */
  for (int i = 0; i < 64; ++i) {
    reserved[i].base = map[4 * i].base + 64 * 1024;
    reserved[i].length = 4096;
    reserved[i].type = PF_REGION_KERNEL;
  }
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  int status = pf_init(&config, map, 256, reserved, 64);
  if (status != PF_OK) {
    fprintf(stderr, "pf_init refused a map memmap accepted: %d\n", status);
    return 1;
  }
  CHECK(pf_verify() == 0);
  pf_phys_t p = alloc_pages(0, GFP_DMA);
  CHECK(p != 0);
  free_pages(p, 0);
  return 0;
}
