/* A use-after-free reader learns the cache's key (the last free object's
 * link is null, so its slot holds the key XOR the slot's address) and
 * forges valid-looking links: every free object's link now names a live
 * object of the slab. The walk reaches the live object, whose slot (its
 * owner's data) decodes to no object: named, before anything is handed
 * out twice. (Forging the live object's slot as well, which takes a write
 * into memory the attacker owns, makes the chain consistent: no hardened
 * free list catches that; see the paragraph after README.md's misuse table.) */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  misuse_free_list_of_64(o, N);
  /* 64-byte objects keep their link in their first word. */
  uintptr_t page = (uintptr_t)o[1] & ~(uintptr_t)(PAGE - 1);
  uintptr_t key = 0;
  for (uintptr_t a = page; a < page + PAGE && key == 0; a += 64) {
    uintptr_t k = *(uintptr_t*)a ^ a; /* the key, if a's link is null */
    int all = 1;
    for (int j = 1; j < N && all; ++j) {
      if ((uintptr_t)o[j] == a) continue;
      uintptr_t next = *(uintptr_t*)o[j] ^ (uintptr_t)o[j] ^ k;
      all = next - page < PAGE;
    }
    if (all) key = k;
  }
  CHECK(key != 0);
  for (int i = 1; i < N; ++i) *(uintptr_t*)o[i] = (uintptr_t)o[0] ^ key ^ (uintptr_t)o[i];
  misuse_allocate_64(2 * N);
  return got_through("forged links to a live object");
}
