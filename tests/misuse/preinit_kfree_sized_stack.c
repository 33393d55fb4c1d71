/* kfree_sized of a stack pointer before pf_init, with a size of a kmalloc
 * class (its fast path: kmalloc's size table is all null then): refused by
 * name. */
#include "misuse.h"
int main(void) {
  char on_stack[64];
  memset(on_stack, 1, sizeof on_stack);
  kfree_sized(on_stack, sizeof on_stack);
  return got_through("kfree_sized of a stack pointer before pf_init");
}
