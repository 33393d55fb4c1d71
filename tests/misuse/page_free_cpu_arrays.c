/* free_pages of a cache's per-CPU arrays, found as an outside tester
 * would: the two words that hold two just-freed objects' addresses. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uintptr_t* entry = misuse_cpu_array_entry();
  free_pages(virt_to_phys(entry) & ~(PAGE - 1), 0);
  return got_through("free_pages of a cache's per-CPU arrays");
}
