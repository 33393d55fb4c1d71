/* init_on_free: the link lives past the wiped bytes; kfree(A), a burst,
 * pf_reclaim, kfree(A). */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.init_on_free = 1;
  misuse_up_with(config);
  void* keep = kmalloc(64, GFP_KERNEL);
  void* a = kmalloc(64, GFP_KERNEL);
  CHECK(keep != NULL && a != NULL);
  kfree(a);
  static void* o[3000];
  for (int i = 0; i < 3000; ++i) CHECK((o[i] = kmalloc(64, GFP_KERNEL)) != NULL);
  for (int i = 0; i < 3000; ++i) kfree(o[i]);
  pf_reclaim();
  kfree(a);
  return got_through("a double free at distance with init_on_free");
}
