/* pf_config.init_on_alloc / init_on_free: objects come back zeroed, and are
 * wiped when freed. */
#include "misuse.h"
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.init_on_alloc = 1;
  config.init_on_free = 1;
  misuse_up_with(config);
  unsigned char* p = kmalloc(128, GFP_KERNEL);
  CHECK(p != NULL);
  for (int i = 0; i < 128; ++i) CHECK(p[i] == 0);
  memset(p, 0x5a, 128);
  kfree(p);
  int wiped = 0;
  for (int i = 0; i < 128; ++i) wiped += p[i] == 0; /* the free-list slot sits past the object */
  CHECK(wiped == 128);
  unsigned char* q = kmalloc(128, GFP_KERNEL);
  CHECK(q != NULL);
  for (int i = 0; i < 128; ++i) CHECK(q[i] == 0);
  kfree(q);
  CHECK(pf_verify() == 0);
  return 0;
}
