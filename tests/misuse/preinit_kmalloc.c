/* kmalloc before pf_init: refused by name, null. */
#include "misuse.h"
int main(void) {
  if (kmalloc(64, GFP_KERNEL) != NULL) return got_through("kmalloc gave memory before pf_init");
  return got_through("kmalloc before pf_init");
}
