/* The shared path (cpu_count 1, a second thread) frees an order-0 page twice. */
#include "misuse.h"
static void* body(void* arg) {
  (void)arg;
  pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  CHECK(p != 0);
  free_pages(p, 0);
  free_pages(p, 0);
  exit(got_through("a page double free on the shared path"));
  return NULL;
}
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.cpu_count = 1;
  misuse_up_with(config);
  CHECK(kmalloc(8, GFP_KERNEL) != NULL);
  on_other_thread(body, NULL);
  return 0;
}
