/* An object freed on another CPU (it sits in that CPU's array), then
 * kmem_cache_destroy: a clean destroy, nothing lost. */
#include "misuse.h"
static struct kmem_cache* c;
static void* obj;
static void* free_it(void* arg) {
  (void)arg;
  kmem_cache_free(c, obj);
  return NULL;
}
int main(void) {
  misuse_up();
  uint64_t before = free_frames();
  c = kmem_cache_create("other-cpu", 200, 0, 0, NULL);
  CHECK(c != NULL);
  CHECK((obj = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
  on_other_thread(free_it, NULL); /* in the other CPU's array */
  CHECK(kmem_cache_destroy(c) == 0);
  CHECK(free_frames() == before);
  CHECK(pf_verify() == 0);
  return 0;
}
