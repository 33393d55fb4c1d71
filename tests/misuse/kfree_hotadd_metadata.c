/* kfree of the first byte of a hot-added range (its descriptors). */
#include "misuse.h"
int main(void) {
  void* w = mmap(NULL, 96 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  CHECK(pf_add_memory(80 * MiB, 8 * MiB) == PF_OK);
  kfree(phys_to_virt(80 * MiB));
  return got_through("kfree of hot-add metadata");
}
