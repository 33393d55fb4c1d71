/* kmem_cache_shrink of a cache on one thread while another destroys it
 * (a use of the handle racing its destroy): each round ends with the cache
 * gone; a shrink that comes too late is refused by name; nothing crashes. */
#include "misuse.h"
static struct kmem_cache* c;
static int turn;
static void setup(void) {
  void* o[64];
  for (int i = 0; i < 64; ++i) CHECK((o[i] = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
  for (int i = 0; i < 64; ++i) kmem_cache_free(c, o[i]);
}
static void go(void) {
  if (__atomic_fetch_add(&turn, 1, __ATOMIC_ACQ_REL) % 2 == 0) kmem_cache_destroy(c);
  else kmem_cache_shrink(c);
}
int main(void) {
  misuse_up();
  for (int round = 0; round < 3000; ++round) {
    c = kmem_cache_create("race", 128, 0, 0, NULL);
    CHECK(c != NULL);
    on_two_threads_at_once(setup, go);
  }
  return got_through("kmem_cache_shrink racing kmem_cache_destroy");
}
