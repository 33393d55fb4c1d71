/* pf_init with no config, a null map with a count, too many CPUs, twice. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  CHECK(pf_init(NULL, misuse_map, 4, NULL, 0) == PF_ERR_BAD_CONFIG);
  CHECK(pf_init(&config, NULL, 4, NULL, 0) == PF_ERR_BAD_CONFIG);
  config.cpu_count = 65;
  CHECK(pf_init(&config, misuse_map, 4, NULL, 0) == PF_ERR_BAD_CONFIG);
  config.cpu_count = 1;
  CHECK(pf_init(&config, misuse_map, 4, NULL, 0) == PF_OK);
  CHECK(pf_init(&config, misuse_map, 4, NULL, 0) == PF_ERR_BAD_CONFIG);
  return 0;
}
