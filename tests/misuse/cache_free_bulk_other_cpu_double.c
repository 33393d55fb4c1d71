/* kmem_cache_free on one CPU, then kmem_cache_free_bulk of the same object
 * (among others) on another. */
#include "misuse.h"
static struct kmem_cache* c;
static void* o[8];
static void* free_one(void* arg) {
  (void)arg;
  kmem_cache_free(c, o[3]);
  return NULL;
}
int main(void) {
  misuse_up();
  c = kmem_cache_create("bulk", 72, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK(kmem_cache_alloc_bulk(c, GFP_KERNEL, 8, o) == 8);
  on_other_thread(free_one, NULL);
  kmem_cache_free_bulk(c, 8, o);
  return got_through("a bulk free of an object freed on another CPU");
}
