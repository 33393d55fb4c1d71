/* SLAB_FREELIST_RANDOM everywhere (pf_config.slab_random): a free object
 * on its slab's freelist overwritten, then allocations: named, never
 * followed. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.slab_random = 1;
  misuse_up_with(config);
  enum { N = 48 };
  char* o[N];
  misuse_free_list_of_64(o, N);
  for (int i = 1; i < N; ++i) memset(o[i], 0x5a, 64);
  misuse_allocate_64(2 * N);
  return got_through("an overwritten freelist of a random cache");
}
