/* pf_init with a direct_map_offset that sends managed memory's virtual
 * addresses past 2^64 (2^64 - 16 MiB: physical 16 MiB would be virtual 0,
 * the memory above it wraps to the bottom of the address space), and one
 * that puts the first managed frame at virtual 0: refused with
 * PF_ERR_BAD_CONFIG before anything is written (was: a crash, pf_init wrote
 * its metadata at addresses nobody mapped); then the window's own offset
 * works. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.cpu_count = 2;
  config.direct_map_offset = (uintptr_t)0 - 16 * MiB;
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_ERR_BAD_CONFIG);
  config.direct_map_offset = (uintptr_t)0 - MISUSE_WINDOW_END + PAGE; /* the last frame's end wraps */
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_ERR_BAD_CONFIG);
  config.direct_map_offset = (uintptr_t)0 - PAGE; /* frame 1, the first managed one, at virtual 0 */
  config.low_reserved_end = PAGE;
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_ERR_BAD_CONFIG);
  CHECK(alloc_pages(0, GFP_KERNEL | __GFP_NOWARN) == 0);
  config.low_reserved_end = 0;
  config.direct_map_offset = misuse_reserve_window();
  CHECK(pf_init(&config, misuse_map, 4, misuse_kernel_image, 1) == PF_OK);
  CHECK(kmalloc(64, GFP_KERNEL) != NULL && pf_verify() == 0);
  return 0;
}
