/* Two threads destroy one (empty) cache at the same moment: one destroys
 * it, the other's handle is no live cache any more (invalid-argument). */
#include "misuse.h"
static struct kmem_cache* c;
static void setup(void) {
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(c, o);
}
static void go(void) { kmem_cache_destroy(c); }
int main(void) {
  misuse_up();
  for (int round = 0; round < 2000; ++round) {
    c = kmem_cache_create("race", 128, 0, 0, NULL);
    CHECK(c != NULL);
    on_two_threads_at_once(setup, go);
  }
  return got_through("kmem_cache_destroy of one cache on two threads at once");
}
