/* A use-after-free copy of one free object over its free neighbour, both
 * on their slab's free list (a live object keeps the slab): the copied link
 * decodes to no object of the slab (links are encoded with their own
 * address) and must not be followed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  misuse_free_list_of_64(o, N);
  memcpy(o[3], o[2], 64);
  misuse_allocate_64(2 * N);
  return got_through("a free object's link copied over its neighbour's");
}
