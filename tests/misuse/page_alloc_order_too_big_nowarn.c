/* alloc_pages above the largest order with __GFP_NOWARN: null, silently. */
#include "misuse.h"
int main(void) {
  misuse_up();
  CHECK(alloc_pages(11, GFP_KERNEL | __GFP_NOWARN) == 0);
  CHECK(alloc_pages(200, __GFP_NOWARN) == 0);
  CHECK(pf_verify() == 0);
  return 0;
}
