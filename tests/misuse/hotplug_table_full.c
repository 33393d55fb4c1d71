/* 128 hot-adds of 256 KiB each (the table's every slot), then one more:
 * refused with PF_ERR_HOTPLUG_CAPACITY and a named warning, nothing
 * changed; every added frame outside the metadata is handed out, none from
 * the refused range, and every frame given back leaves verify() clean. */
#include "misuse.h"
#define ADDS 128
#define STEP (256 * 1024ull)
#define BASE (80 * MiB)
static pf_phys_t got[40000];
int main(void) {
  void* w = mmap(NULL, 128 * MiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  CHECK(w != MAP_FAILED);
  misuse_window = (uintptr_t)w;
  misuse_up();
  uint64_t before = free_frames();
  for (int i = 0; i < ADDS; ++i) CHECK(pf_add_memory(BASE + i * STEP, STEP) == PF_OK);
  uint64_t full = free_frames();
  CHECK(full > before);
  CHECK(pf_add_memory(BASE + ADDS * STEP, STEP) == PF_ERR_HOTPLUG_CAPACITY);
  CHECK(pf_add_memory(BASE + ADDS * STEP + 8 * MiB, 4 * MiB) == PF_ERR_HOTPLUG_CAPACITY);
  CHECK(free_frames() == full && pf_verify() == 0);
  size_t n = 0;
  for (pf_phys_t p; n < 40000 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    CHECK(p + PAGE <= BASE + ADDS * STEP);
  }
  CHECK(n > 0 && n < 40000 && n + 64 >= full); /* at most the CPUs' cached share is not counted as taken */
  while (n > 0) free_pages(got[--n], 0);
  CHECK(free_frames() == full && pf_verify() == 0);
  return 0;
}
