/* misuse.h — what every misuse program shares.
 *
 * Each program in tests/misuse/ is one misuse (or one out-of-memory or
 * map-intake case) against the public C API, linked with the hosted
 * libpfalloc.a exactly as an embedding kernel would use pfalloc.h: it maps a
 * window of "physical memory" itself (MAP_NORESERVE: untouched frames cost
 * nothing), hands pf_init a QEMU-like map, then does the one wrong thing.
 * cases.tsv says how each must end; run.sh judges it (exit status and the
 * exact error name on stderr). A program that runs past its misuse returns
 * through got_through(), so "nothing happened" can never pass as caught.
 */
#ifndef PF_MISUSE_H
#define PF_MISUSE_H

#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pfalloc.h"

#define MiB (1024ull * 1024ull)
#define PAGE 4096ull

/* The standard machine: low RAM, a BIOS hole, 64 MiB from 1 MiB, the kernel
 * image at [2 MiB, 3 MiB). */
static const struct pf_region misuse_map[] = {
    {0x0, 0x9fc00, PF_REGION_USABLE},
    {0x9fc00, 0x400, PF_REGION_RESERVED},
    {0xf0000, 0x10000, PF_REGION_RESERVED},
    {1 * MiB, 64 * MiB, PF_REGION_USABLE},
};
static const struct pf_region misuse_kernel_image[] = {{2 * MiB, 1 * MiB, PF_REGION_KERNEL}};
#define MISUSE_WINDOW_END (65 * MiB)
#define MISUSE_KERNEL_IMAGE (2 * MiB)

static uintptr_t misuse_window; /* the virtual address of physical 0 */

static inline void* phys_to_virt(pf_phys_t p) { return (void*)(misuse_window + p); }
static inline pf_phys_t virt_to_phys(const void* v) { return (pf_phys_t)((uintptr_t)v - misuse_window); }

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "misuse program: check failed: %s (line %d)\n", #cond, __LINE__); \
      exit(1);                                                                   \
    }                                                                            \
  } while (0)

/* Maps the window (once) and returns the offset a pf_config needs. */
static inline uintptr_t misuse_reserve_window(void) {
  if (misuse_window == 0) {
    void* w = mmap(NULL, MISUSE_WINDOW_END, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(w != MAP_FAILED);
    misuse_window = (uintptr_t)w;
  }
  return misuse_window;
}

/* pf_init on the standard map with `config` (direct_map_offset filled in). */
static inline void misuse_up_with(struct pf_config config) {
  config.direct_map_offset = misuse_reserve_window();
  if (config.cpu_count == 0) config.cpu_count = 2;
  int status = pf_init(&config, misuse_map, sizeof misuse_map / sizeof misuse_map[0],
                       misuse_kernel_image, 1);
  if (status != PF_OK) {
    fprintf(stderr, "misuse program: pf_init failed: %d\n", status);
    exit(2);
  }
}

static inline void misuse_up(void) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  misuse_up_with(config);
}

/* pf_init on a program's own map (one CPU, no extra reservations). */
static inline void misuse_up_on(const struct pf_region* map, size_t count) {
  struct pf_config config;
  memset(&config, 0, sizeof config);
  config.direct_map_offset = misuse_reserve_window();
  config.cpu_count = 1;
  CHECK(pf_init(&config, map, count, NULL, 0) == PF_OK);
}

/* Takes every order-0 frame (up to 16384) and gives them back; returns 1 if
 * one lay at or above `limit`, else 0 (with at least one frame taken and
 * verify() clean afterwards). */
static inline int misuse_any_frame_at_or_above(pf_phys_t limit) {
  static pf_phys_t got[16384];
  size_t n = 0;
  int above = 0;
  for (pf_phys_t p; n < 16384 && (p = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN)) != 0; ++n) {
    got[n] = p;
    above |= p >= limit;
  }
  CHECK(n > 0 && n < 16384);
  while (n > 0) free_pages(got[--n], 0);
  CHECK(pf_verify() == 0);
  return above;
}

/* An outside tester's way to the allocator's own records: scan the managed
 * window (untouched frames read as zero) for a word. */
/* The first 8-byte aligned word equal to `value`, other than at `skip`. */
static inline uintptr_t* misuse_find_word(uintptr_t value, const void* skip) {
  for (uintptr_t* w = (uintptr_t*)phys_to_virt(MiB); w < (uintptr_t*)phys_to_virt(MISUSE_WINDOW_END); ++w)
    if (*w == value && (const void*)w != skip) return w;
  return NULL;
}
/* The word holding `a` followed by one holding `b`. */
static inline uintptr_t* misuse_find_pair(const void* a, const void* b) {
  for (uintptr_t* w = (uintptr_t*)phys_to_virt(MiB); w + 1 < (uintptr_t*)phys_to_virt(MISUSE_WINDOW_END); ++w)
    if (w[0] == (uintptr_t)a && w[1] == (uintptr_t)b) return w;
  return NULL;
}
/* The 64-byte record holding `a` and, in the next word, `b` (a slab header
 * names its cache and its first object so). */
static inline uintptr_t* misuse_find_record(const void* a, const void* b) {
  for (uintptr_t* w = (uintptr_t*)phys_to_virt(MiB); w + 1 < (uintptr_t*)phys_to_virt(MISUSE_WINDOW_END); ++w)
    if (w[0] == (uintptr_t)a && w[1] == (uintptr_t)b) return (uintptr_t*)((uintptr_t)w & ~(uintptr_t)63);
  return NULL;
}

/* A word of this CPU's array of a fresh cache of 200-byte objects, found as
 * an outside tester would: the two words holding two just-freed objects'
 * addresses (the array's top two entries). */
static inline uintptr_t* misuse_cpu_array_entry(void) {
  struct kmem_cache* c = kmem_cache_create("arr", 200, 0, 0, NULL);
  CHECK(c != NULL);
  void* a = kmem_cache_alloc(c, GFP_KERNEL);
  void* b = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(a != NULL && b != NULL);
  kmem_cache_free(c, a);
  kmem_cache_free(c, b);
  uintptr_t* entry = misuse_find_pair(a, b);
  CHECK(entry != NULL);
  return entry;
}
/* The header of the one slab of a fresh cache of `size`-byte objects (no
 * colour), found as a 64-byte record naming the cache and its first object;
 * the cache in *cache. */
static inline uintptr_t* misuse_slab_header(size_t size, struct kmem_cache** cache) {
  struct kmem_cache* c = kmem_cache_create("hdr", size, 0, SLAB_NO_COLOUR, NULL);
  CHECK(c != NULL);
  void* o = kmem_cache_alloc(c, GFP_KERNEL);
  CHECK(o != NULL);
  uintptr_t* found = misuse_find_record(c, o);
  CHECK(found != NULL);
  if (cache != NULL) *cache = c;
  return found;
}

/* Free frames now; out-of-memory programs check nothing was lost. */
static inline uint64_t free_frames(void) {
  struct pf_counters c;
  pf_reclaim();
  pf_get_counters(&c);
  return c.free_frames;
}

/* n kmalloc(64) objects of one slab, all but o[0] freed and back on their
 * slab's free list (pf_reclaim empties the CPU's array and the depot into
 * it); o[0] keeps the slab. For the free-list corruption programs. */
static inline void misuse_free_list_of_64(char** o, int n) {
  for (int i = 0; i < n; ++i) CHECK((o[i] = (char*)kmalloc(64, GFP_KERNEL)) != NULL);
  for (int i = 1; i < n; ++i) kfree(o[i]);
  pf_reclaim();
}
/* `count` kmalloc(64) calls: the free list the program left is walked. */
static inline void misuse_allocate_64(int count) {
  for (int i = 0; i < count; ++i) CHECK(kmalloc(64, GFP_KERNEL) != NULL);
}

/* The misuse was not stopped: say so and fail. */
static inline int got_through(const char* what) {
  fprintf(stderr, "misuse program: not caught: %s\n", what);
  return 1;
}

/* Runs fn(arg) on a thread of its own (another CPU slot) and waits. */
static inline void on_other_thread(void* (*fn)(void*), void* arg) {
  pthread_t t;
  CHECK(pthread_create(&t, NULL, fn, arg) == 0);
  CHECK(pthread_join(t, NULL) == 0);
}

/* Two threads (two CPU slots) call `fn` at the same moment: thread 0 first
 * runs `setup` (so what it allocates has thread 0's CPU as its home), then
 * both spin until both are ready and go. Waits for both. */
static void (*race_setup)(void);
static void (*race_fn)(void);
static int race_ready;
static void* race_thread(void* arg) {
  if (arg != NULL && race_setup != NULL) race_setup();
  __atomic_add_fetch(&race_ready, 1, __ATOMIC_ACQ_REL);
  while (__atomic_load_n(&race_ready, __ATOMIC_ACQUIRE) < 2) {
  }
  race_fn();
  return NULL;
}
static inline void on_two_threads_at_once(void (*setup)(void), void (*fn)(void)) {
  pthread_t t[2];
  race_setup = setup;
  race_fn = fn;
  race_ready = 0;
  CHECK(pthread_create(&t[0], NULL, race_thread, (void*)1) == 0);
  CHECK(pthread_create(&t[1], NULL, race_thread, NULL) == 0);
  CHECK(pthread_join(t[0], NULL) == 0);
  CHECK(pthread_join(t[1], NULL) == 0);
}

#endif
