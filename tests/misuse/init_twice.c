/* pf_init again after it succeeded: refused (PF_ERR_BAD_CONFIG), the running
 * allocator untouched. */
#include "misuse.h"
int main(void) {
  misuse_up();
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(p != NULL);
  uint64_t before = free_frames();
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_window;
  config.cpu_count = 2;
  CHECK(pf_init(&config, misuse_map, sizeof misuse_map / sizeof misuse_map[0], NULL, 0) < 0);
  CHECK(free_frames() == before && pf_verify() == 0 && ksize(p) == 64);
  kfree(p);
  return 0;
}
