/* free_pages of the last page of the 64-bit physical space. */
#include "misuse.h"
int main(void) {
  misuse_up();
  free_pages(~(pf_phys_t)0 & ~(pf_phys_t)(PAGE - 1), 0);
  return got_through("free_pages at the top of the address space");
}
