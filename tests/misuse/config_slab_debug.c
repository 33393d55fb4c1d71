/* pf_config.slab_debug: every cache, kmalloc's too, gets redzones. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.slab_debug = 1;
  misuse_up_with(config);
  char* p = kmalloc(24, GFP_KERNEL);
  CHECK(p != NULL);
  p[24] = 0x42;
  kfree(p);
  return got_through("kmalloc overrun with pf_config.slab_debug");
}
