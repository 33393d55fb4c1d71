/* One object freed once on each of two CPUs, then the cache shrunk (the
 * flush path once dereferenced a null slab here). */
#include "misuse.h"
static void* object;
static void* free_it(void* arg) {
  (void)arg;
  kfree(object);
  return NULL;
}
int main(void) {
  misuse_up();
  object = kmalloc(64, GFP_KERNEL);
  CHECK(object != NULL);
  void* other = kmalloc(64, GFP_KERNEL);
  kfree(object);
  on_other_thread(free_it, NULL);
  kfree(other);
  pf_reclaim();
  return got_through("one object freed on two CPUs");
}
