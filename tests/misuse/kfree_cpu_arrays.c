/* kfree of an entry of a cache's per-CPU array (found by its content). */
#include "misuse.h"
int main(void) {
  misuse_up();
  uintptr_t* entry = misuse_cpu_array_entry();
  kfree(entry);
  return got_through("kfree of a per-CPU array entry");
}
