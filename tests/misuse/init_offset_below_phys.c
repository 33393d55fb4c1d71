/* A direct_map_offset "below" physical memory (virtual = phys - X, the
 * offset wrapping as an unsigned number): RAM at 2^49, reached through a
 * window lower in the address space. Not a misuse: the sums are modular and
 * managed memory's addresses neither wrap nor reach 0, so pf_init takes it
 * and pages, objects and verify() work (the wrap check must not refuse it). */
#include "misuse.h"
int main(void) {
  const uint64_t phys = 1ull << 49;
  void* w = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  const struct pf_region map[] = {{phys, 64 * MiB, PF_REGION_USABLE}};
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = (uintptr_t)w - phys;
  config.cpu_count = 2;
  CHECK((uintptr_t)w < phys); /* the offset wraps */
  CHECK(pf_init(&config, map, 1, NULL, 0) == PF_OK);
  char* o = kmalloc(100, GFP_KERNEL);
  CHECK(o != NULL && (uintptr_t)o >= (uintptr_t)w && (uintptr_t)o < (uintptr_t)w + 64 * MiB);
  memset(o, 1, 100);
  kfree(o);
  pf_phys_t p = alloc_pages(3, GFP_KERNEL | __GFP_ZERO);
  CHECK(p >= phys && p + 8 * PAGE <= phys + 64 * MiB);
  CHECK(*(char*)(p + config.direct_map_offset) == 0);
  free_pages(p, 3);
  CHECK(pf_verify() == 0);
  return 0;
}
