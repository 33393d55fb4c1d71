/* pf_format_slabinfo / pf_format_buddyinfo into buffers of every size from
 * 1 to past the text (and a cache name of 4000 characters): never a byte
 * past `size`, always NUL-terminated, the length written returned. */
#include "misuse.h"
static char name[4001];
int main(void) {
  misuse_up();
  memset(name, 'n', 4000);
  struct kmem_cache* c = kmem_cache_create(name, 100, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_alloc(c, GFP_KERNEL) != NULL);
  static char buf[65536 + 64];
  size_t (*fmt[2])(char*, size_t) = {pf_format_slabinfo, pf_format_buddyinfo};
  for (int f = 0; f < 2; ++f) {
    size_t full = fmt[f](buf, 65536);
    CHECK(full > 0 && full < 65535 && strlen(buf) == full);
    for (size_t size = 1; size <= full + 2; ++size) {
      memset(buf, 0x5a, size + 64);
      size_t n = fmt[f](buf, size);
      CHECK(n < size && buf[n] == '\0' && strlen(buf) == n);
      for (size_t i = size; i < size + 64; ++i) CHECK(buf[i] == 0x5a);
    }
  }
  CHECK(pf_verify() == 0);
  return 0;
}
