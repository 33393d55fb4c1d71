/* kfree((void*)-16): the top of the address space. */
#include "misuse.h"
int main(void) {
  misuse_up();
  kfree((void*)(uintptr_t)-16);
  return got_through("kfree of the top of the address space");
}
