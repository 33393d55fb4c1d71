/* SLAB_FREELIST_RANDOM: kfree(A), a burst of other objects, kfree(A). */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.slab_random = 1;
  misuse_up_with(config);
  void* keep = kmalloc(200, GFP_KERNEL);
  void* a = kmalloc(200, GFP_KERNEL);
  CHECK(keep != NULL && a != NULL);
  kfree(a);
  static void* o[3000];
  for (int i = 0; i < 3000; ++i) CHECK((o[i] = kmalloc(200, GFP_KERNEL)) != NULL);
  for (int i = 0; i < 3000; ++i) kfree(o[i]);
  kfree(a);
  return got_through("a double free at distance in a random cache");
}
