/* cpu_count 1, six threads: five of them get CPU ids at or above cpu_count
 * from the hook (the hosted hook numbers threads, not the configured CPUs),
 * which the allocator serves through its shared cache. Pages of orders 0..3
 * and objects of every kmalloc class, allocated on one thread and freed on
 * another: nothing lost, verify() clean, frames all back. */
#include "misuse.h"
#define THREADS 6
#define N 256
static pf_phys_t pages[THREADS][N];
static void* objs[THREADS][N];
static int ready[THREADS];
static void* body(void* arg) {
  long id = (long)arg;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < N; ++i) {
      pages[id][i] = alloc_pages(i % 4, GFP_KERNEL);
      objs[id][i] = kmalloc((size_t)8 << (i % 11), GFP_KERNEL);
      CHECK(pages[id][i] != 0 && objs[id][i] != NULL);
    }
    for (int i = 0; i < N; ++i) {
      free_pages(pages[id][i], i % 4);
      kfree(objs[id][i]);
    }
  }
  /* Leave a set for the next thread to free. */
  for (int i = 0; i < N; ++i) {
    pages[id][i] = alloc_pages(i % 4, GFP_KERNEL);
    objs[id][i] = kmalloc((size_t)8 << (i % 11), GFP_KERNEL);
    CHECK(pages[id][i] != 0 && objs[id][i] != NULL);
  }
  __atomic_store_n(&ready[id], 1, __ATOMIC_RELEASE);
  long other = (id + 1) % THREADS;
  while (!__atomic_load_n(&ready[other], __ATOMIC_ACQUIRE)) {
  }
  for (int i = 0; i < N; ++i) {
    free_pages(pages[other][i], i % 4);
    kfree(objs[other][i]);
  }
  return NULL;
}
int main(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.cpu_count = 1;
  misuse_up_with(config);
  uint64_t before = free_frames();
  pthread_t t[THREADS];
  for (long i = 0; i < THREADS; ++i) CHECK(pthread_create(&t[i], NULL, body, (void*)i) == 0);
  for (long i = 0; i < THREADS; ++i) CHECK(pthread_join(t[i], NULL) == 0);
  CHECK(pf_verify() == 0);
  CHECK(free_frames() == before);
  return 0;
}
