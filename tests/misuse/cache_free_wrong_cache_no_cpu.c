/* The shared path (cpu_count 1, a second thread): an object of one cache
 * given back to another of the same size. */
#include "misuse.h"
static struct kmem_cache *a, *b;
static void* body(void* arg) {
  (void)arg;
  void* o = kmem_cache_alloc(a, GFP_KERNEL);
  CHECK(o != NULL);
  kmem_cache_free(b, o);
  exit(got_through("kmem_cache_free to the wrong cache on the shared path"));
  return NULL;
}
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.cpu_count = 1;
  misuse_up_with(config);
  a = kmem_cache_create("one", 64, 0, 0, NULL);
  b = kmem_cache_create("two", 64, 0, 0, NULL);
  CHECK(a != NULL && b != NULL);
  on_other_thread(body, NULL);
  return 0;
}
