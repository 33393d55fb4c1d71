/* kfree of a malloc'd buffer before pf_init: refused by name. */
#include "misuse.h"
int main(void) {
  void* p = malloc(64);
  CHECK(p != NULL);
  memset(p, 1, 64);
  kfree(p);
  return got_through("kfree of a malloc'd pointer before pf_init");
}
