/* pf_config.slab_debug: kmem_cache_free_bulk with one object twice. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.slab_debug = 1;
  misuse_up_with(config);
  struct kmem_cache* c = kmem_cache_create("bulk", 40, 0, 0, NULL);
  CHECK(c != NULL);
  void* o[4];
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 4, o) == 4);
  void* batch[5] = {o[0], o[1], o[2], o[1], o[3]};
  kmem_cache_free_bulk(c, 5, batch);
  return got_through("a duplicate in a bulk free of a debug cache");
}
