/* A double free found after the per-CPU caches were drained to the buddy. */
#include "misuse.h"
int main(void) {
  misuse_up();
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 0);
  pf_drain_pages();
  free_pages(p, 0);
  return got_through("free_pages of a block already back in the buddy");
}
