/* A caller without a CPU of its own (pf_config.cpu_count 1: a second thread
 * is served by the shared, locked path) frees one kmalloc object twice. */
#include "misuse.h"
static void* body(void* arg) {
  (void)arg;
  void* keep = kmalloc(64, GFP_KERNEL);
  void* p = kmalloc(64, GFP_KERNEL);
  CHECK(keep != NULL && p != NULL);
  kfree(p);
  kfree(p);
  exit(got_through("a double free on the shared path"));
  return NULL;
}
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.cpu_count = 1;
  misuse_up_with(config);
  CHECK(kmalloc(8, GFP_KERNEL) != NULL); /* main: the one CPU */
  on_other_thread(body, NULL);
  return 0;
}
