/* A use-after-free write over an object sitting in this CPU's array, then
 * allocations: the object is handed out once, never twice (the write
 * itself is a debug-mode finding: SLAB_DEBUG poisons free objects). The
 * array is a pair of stacks (frees onto one, allocations from the other,
 * turned when the second runs dry), so p comes back once the objects
 * allocated ahead of it are gone: more allocations than the pair holds. */
#include "misuse.h"
enum { N = 4096 };
static char* got[N];
int main(void) {
  misuse_up();
  char* keep = kmalloc(64, GFP_KERNEL);
  char* p = kmalloc(64, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree(p);
  memset(p, 0x41, 64);
  int seen = 0;
  for (int i = 0; i < N; ++i) {
    got[i] = kmalloc(64, GFP_KERNEL);
    CHECK(got[i] != NULL);
    seen += got[i] == p;
    for (int j = 0; j < i; ++j) CHECK(got[j] != got[i]);
  }
  CHECK(seen == 1);
  for (int i = 0; i < N; ++i) kfree(got[i]);
  kfree(keep);
  CHECK(pf_verify() == 0);
  return 0;
}
