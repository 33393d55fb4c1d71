/* Zeroes written over free objects on their slab's freelist (a live
 * neighbour keeps the slab): the links decode to garbage; named, never
 * followed. */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  misuse_free_list_of_64(o, N);
  for (int i = 1; i < N; ++i) memset(o[i], 0, 64);
  misuse_allocate_64(2 * N);
  return got_through("zeroed free objects on a freelist");
}
