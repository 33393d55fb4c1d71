/* A 64-byte overflow of a live object into its free neighbour overwrites the
 * neighbour's free-list link with a pointer the program chose; kmalloc must
 * not follow it (links are encoded and checked when followed). */
#include "misuse.h"
int main(void) {
  misuse_up();
  enum { N = 48 };
  char* o[N];
  for (int i = 0; i < N; ++i) CHECK((o[i] = kmalloc(64, GFP_KERNEL)) != NULL);
  int live = -1;
  for (int i = 0; i + 1 < N && live < 0; ++i)
    for (int j = 0; j < N; ++j)
      if (o[j] == o[i] + 64) { live = i; break; }
  CHECK(live >= 0);
  for (int i = 0; i < N; ++i)
    if (i != live) kfree(o[i]);
  pf_reclaim(); /* the freed objects go back to their slab's free list */
  uint64_t target = (uint64_t)(uintptr_t)phys_to_virt(MISUSE_KERNEL_IMAGE);
  for (int k = 0; k < 8; ++k) memcpy(o[live] + 64 + 8 * k, &target, 8);
  for (int i = 0; i < 200; ++i) {
    char* b = kmalloc(64, GFP_KERNEL);
    if (b == (char*)(uintptr_t)target) return got_through("kmalloc returned the planted pointer");
  }
  return got_through("free-list link overwritten");
}
