/* SLAB_DEBUG cache with a constructor (no poisoning): freed objects' free-list
 * links overwritten, then the cache allocates past them. A debug cache keeps
 * the link after the right redzone (slab.hpp): at align8(48) + 16 = 64. */
#include "misuse.h"
static void ctor(void* p) { memset(p, 0x11, 48); }
int main(void) {
  misuse_up();
  struct kmem_cache* c = kmem_cache_create("dbg-ctor", 48, 0, SLAB_DEBUG, ctor);
  CHECK(c != NULL);
  enum { N = 40 };
  char* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
  for (int i = 1; i < N; ++i) kmem_cache_free(c, o[i]);
  pf_reclaim();
  uint64_t junk = 0x4141414141414141ull;
  for (int i = 1; i < N; ++i)
    memcpy(o[i] + 64, &junk, 8);
  for (int i = 0; i < 2 * N; ++i) (void)kmem_cache_alloc(c, GFP_KERNEL);
  return got_through("debug free-list link overwritten");
}
