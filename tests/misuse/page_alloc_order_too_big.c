/* alloc_pages above the largest order: a null result and a warning (as Linux). */
#include "misuse.h"
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  CHECK(alloc_pages(11, GFP_KERNEL) == 0);
  CHECK(alloc_pages(64, GFP_KERNEL) == 0);
  CHECK(alloc_pages(~0u, GFP_KERNEL) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
