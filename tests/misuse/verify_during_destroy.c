/* Not misuse: pf_verify, pf_format_slabinfo and pf_reclaim on one thread
 * while another creates, fills and destroys caches. Clean throughout. */
#include "misuse.h"
static volatile int stop;
static void* churn(void* arg) {
  (void)arg;
  for (int round = 0; round < 1500; ++round) {
    struct kmem_cache* c = kmem_cache_create("churn", 64 + (round % 7) * 40, 0, 0, NULL);
    CHECK(c != NULL);
    void* o[40];
    for (int i = 0; i < 40; ++i) CHECK((o[i] = kmem_cache_alloc(c, GFP_KERNEL)) != NULL);
    for (int i = 0; i < 40; ++i) kmem_cache_free(c, o[i]);
    CHECK(kmem_cache_destroy(c) == 0);
  }
  stop = 1;
  return NULL;
}
int main(void) {
  misuse_up();
  pthread_t t;
  CHECK(pthread_create(&t, NULL, churn, NULL) == 0);
  static char buf[16384];
  while (!stop) {
    CHECK(pf_verify() == 0);
    pf_format_slabinfo(buf, sizeof buf);
    pf_reclaim();
  }
  CHECK(pthread_join(t, NULL) == 0);
  CHECK(pf_verify() == 0);
  return 0;
}
