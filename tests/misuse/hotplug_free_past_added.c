/* free_pages of the frame just past a hot-added range. */
#include "misuse.h"
int main(void) {
  void* w = mmap(NULL, 96 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_OK);
  free_pages(88 * MiB, 0);
  return got_through("free_pages just past a hot-added range");
}
