/* kmem_cache_create with a 1000-character name, the largest size, the
 * largest alignment, every flag: caches that work (name cut to 31
 * characters), destroyed cleanly; nothing lost. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  static char name[1001];
  memset(name, 'n', 1000);
  struct kmem_cache* a = kmem_cache_create(name, 8, 0, 0, NULL);
  CHECK(a != NULL);
  struct kmem_cache* b = kmem_cache_create("big", 64 * 1024, 4096,
                                           SLAB_HWCACHE_ALIGN | SLAB_NO_COLOUR | SLAB_DEBUG | SLAB_FREELIST_RANDOM, NULL);
  CHECK(b != NULL);
  struct kmem_cache* d = kmem_cache_create("big-plain", 64 * 1024, 4096, 0, NULL);
  CHECK(d != NULL);
  struct kmem_cache* e = kmem_cache_create("one", 1, 1, SLAB_HWCACHE_ALIGN, NULL);
  CHECK(e != NULL);
  void* o[4] = {kmem_cache_alloc(a, GFP_KERNEL), kmem_cache_alloc(b, GFP_KERNEL),
                kmem_cache_alloc(d, GFP_KERNEL), kmem_cache_alloc(e, GFP_KERNEL)};
  for (int i = 0; i < 4; ++i) CHECK(o[i] != NULL);
  CHECK(((uintptr_t)o[1] & 4095) == 0 && ((uintptr_t)o[2] & 4095) == 0);
  memset(o[1], 1, 64 * 1024);
  memset(o[2], 1, 64 * 1024);
  char info[16384];
  CHECK(pf_format_slabinfo(info, sizeof info) > 0);
  CHECK(strstr(info, "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn ") != NULL);
  CHECK(pf_verify() == 0);
  kmem_cache_free(a, o[0]);
  kmem_cache_free(b, o[1]);
  kmem_cache_free(d, o[2]);
  kmem_cache_free(e, o[3]);
  CHECK(kmem_cache_destroy(a) == 0 && kmem_cache_destroy(b) == 0 && kmem_cache_destroy(d) == 0 &&
        kmem_cache_destroy(e) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
