/* free_pages of the first frame of a hot-added range, which holds the
 * range's own descriptors (reserved, "hot-add metadata"). */
#include "misuse.h"
int main(void) {
  /* The window must cover the added range: map it first, larger. */
  void* w = mmap(NULL, 96 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  CHECK(pf_add_memory(80 * MiB, 16 * MiB) == PF_OK);
  free_pages(80 * MiB, 0);
  return got_through("free_pages of hot-add metadata");
}
