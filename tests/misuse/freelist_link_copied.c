/* A use-after-free copy of one free object over its free neighbour, both
 * on their slab's free list (a live object keeps the slab): the copied link
 * decodes to no object of the slab (links are encoded with their own
 * address) and must not be followed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmalloc(64, GFP_KERNEL)) != NULL);
  for (int i = 1; i < N; ++i) kfree(o[i]);
  pf_reclaim(); /* the freed objects go back to their slab's free list */
  memcpy(o[3], o[2], 64);
  for (int i = 0; i < 2 * N; ++i) CHECK(kmalloc(64, GFP_KERNEL) != NULL);
  return got_through("a free object's link copied over its neighbour's");
}
