/* free_contig of a cache's per-CPU arrays block. */
#include "misuse.h"
int main(void) {
  misuse_up();
  uintptr_t* entry = misuse_cpu_array_entry();
  free_contig(virt_to_phys(entry) & ~(PAGE - 1), 1);
  return got_through("free_contig of a cache's per-CPU arrays");
}
