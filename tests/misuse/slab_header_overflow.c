/* A one-byte overflow past every object of full kmalloc-64 slabs (so past the
 * last object of each slab too), then every object freed and the slabs
 * reclaimed. The slab's own metadata must not sit right after the last
 * object unguarded: the allocator must come through intact (or name it). */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 256 };
  static char* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmalloc(64, GFP_KERNEL)) != NULL);
  for (int i = 0; i < N; ++i) o[i][64] = (char)0xa5;
  for (int i = 0; i < N; ++i) kfree(o[i]);
  pf_reclaim();
  CHECK(pf_verify() == 0);
  return 0;
}
