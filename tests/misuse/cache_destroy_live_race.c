/* Two threads destroy one cache that still has a live object at the same
 * moment: the first reports the live object, or the second is refused
 * while the first is under way (either fatal); neither reads the arrays
 * the other drains. */
#include "misuse.h"
static struct kmem_cache* c;
static void setup(void) { CHECK(kmem_cache_alloc(c, GFP_KERNEL) != NULL); }
static void go(void) { kmem_cache_destroy(c); }
int main(void) {
  misuse_up();
  c = kmem_cache_create("race", 128, 0, 0, NULL);
  CHECK(c != NULL);
  on_two_threads_at_once(setup, go);
  return got_through("kmem_cache_destroy of a live cache on two threads at once");
}
