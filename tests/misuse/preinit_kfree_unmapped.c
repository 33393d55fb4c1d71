/* kfree before pf_init of a kernel-looking address mapped nowhere: refused
 * by name, nothing read through it (a read would be SIGSEGV, not 134). */
#include "misuse.h"
int main(void) {
  kfree((void*)(uintptr_t)0xffff888000100040ull);
  return got_through("kfree of an unmapped address before pf_init");
}
