/* kfree of a pointer into the stack before pf_init (was a crash: the fast
 * path read the lookup tables pf_init builds): refused by name. */
#include "misuse.h"
int main(void) {
  char on_stack[64];
  memset(on_stack, 1, sizeof on_stack);
  kfree(on_stack);
  return got_through("kfree of a stack pointer before pf_init");
}
