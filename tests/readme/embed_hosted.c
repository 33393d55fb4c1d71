/* embed_hosted.c — README's embedding example, run. `make test-readme`
 * compiles the core with README's first compile line alone (the hosted
 * build), the example as README shows it, and this file, and links them with
 * plain gcc (no C++ runtime), as README says a hosted C program can.
 *
 * Here the kernel functions the example declares are a Linux process's: one
 * CPU, interrupts a no-op, the serial port stderr. The example's direct-map
 * offset is a kernel address no process can map, so pf_init is wrapped
 * (-Wl,--wrap=pf_init): the wrapper maps a window for the map the example is
 * given and passes the window's offset instead, changing nothing else. The
 * example's calls are wrapped too, to check that each does what README's
 * comment beside it says; RAM starts as garbage, as a machine's does. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "pfalloc.h"

void mm_init(const struct pf_region* e820, size_t n, uint64_t kernel_start, uint64_t kernel_end);

static unsigned char* window; /* physical address 0 */
static size_t window_bytes;
static int failures;
static size_t logged; /* bytes the allocator logged: the example should draw none */

#define CHECK(cond, ...)                                   \
  do {                                                     \
    if (!(cond)) {                                         \
      fprintf(stderr, "README example: " __VA_ARGS__);     \
      fprintf(stderr, " (%s:%d: %s)\n", __FILE__, __LINE__, #cond); \
      ++failures;                                          \
    }                                                      \
  } while (0)

/* The kernel functions the example declares. */
unsigned my_cpu(void) { return 0; }
void serial_write(const char* text, size_t n) {
  logged += n;
  fwrite(text, 1, n, stderr);
}
void panic(const char* message) {
  fprintf(stderr, "panic: %s\n", message);
  exit(1);
}
unsigned long irq_save(void) { return 0; }
void irq_restore(unsigned long flags) { (void)flags; }
void ipi_all_and_wait(void) {}

int __real_pf_init(const struct pf_config*, const struct pf_region*, size_t, const struct pf_region*, size_t);
int __wrap_pf_init(const struct pf_config* config, const struct pf_region* map, size_t n,
                   const struct pf_region* reserved, size_t m) {
  uint64_t top = 0;
  for (size_t i = 0; i < n; ++i)
    if (map[i].base + map[i].length > top) top = map[i].base + map[i].length;
  window_bytes = (size_t)top;
  window = mmap(NULL, window_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (window == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  memset(window, 0xa5, window_bytes); /* RAM is not zeroed at boot */
  struct pf_config hosted = *config;
  CHECK(config->direct_map_offset == 0xffff800000000000u, "the example's direct map moved");
  hosted.direct_map_offset = (uintptr_t)window;
  return __real_pf_init(&hosted, map, n, reserved, m);
}

pf_phys_t __real_alloc_pages(unsigned int order, gfp_t flags);
pf_phys_t __wrap_alloc_pages(unsigned int order, gfp_t flags) {
  const pf_phys_t phys = __real_alloc_pages(order, flags);
  const size_t bytes = (size_t)4096 << order;
  CHECK(phys != 0, "alloc_pages(%u) failed", order);
  if (phys == 0) return phys;
  CHECK(phys % bytes == 0, "alloc_pages(%u) gave %#llx, not naturally aligned", order, (unsigned long long)phys);
  CHECK(phys + bytes <= window_bytes, "alloc_pages(%u) gave %#llx, outside RAM", order, (unsigned long long)phys);
  if (flags & __GFP_DMA32)
    CHECK(phys + bytes <= (1ull << 32), "GFP_DMA32 block %#llx ends above 4 GiB", (unsigned long long)phys);
  if (flags & __GFP_ZERO)
    for (size_t i = 0; i < bytes; ++i)
      if (window[phys + i] != 0) {
        CHECK(0, "__GFP_ZERO block %#llx has byte %zu = %#x", (unsigned long long)phys, i, window[phys + i]);
        break;
      }
  memset(window + phys, 0x5a, bytes); /* the caller owns it all */
  return phys;
}

void* __real_kmalloc(size_t size, gfp_t flags);
void* __wrap_kmalloc(size_t size, gfp_t flags) {
  unsigned char* p = __real_kmalloc(size, flags);
  CHECK(p != NULL, "kmalloc(%zu) failed", size);
  if (p == NULL) return p;
  CHECK(p >= window && p + size <= window + window_bytes, "kmalloc(%zu) = %p, outside RAM", size, (void*)p);
  /* README: a power-of-two size is aligned to itself (up to 4096). */
  if ((size & (size - 1)) == 0 && size <= 4096)
    CHECK((uintptr_t)p % size == 0, "kmalloc(%zu) = %p, not %zu-byte aligned", size, (void*)p, size);
  CHECK(ksize(p) >= size, "ksize of kmalloc(%zu) is %zu", size, ksize(p));
  memset(p, 0x5a, size);
  return p;
}

int main(void) {
  /* The map embed_stubs.c hands the freestanding build, and its kernel. */
  static const struct pf_region e820[] = {{0, 0x9fc00, PF_REGION_USABLE},
                                          {0x100000, 0x7f00000, PF_REGION_USABLE}};
  mm_init(e820, 2, 0x100000, 0x400000);
  CHECK(window != NULL, "mm_init did not call pf_init");
  CHECK(logged == 0, "the allocator logged %zu bytes", logged);
  CHECK(pf_verify() == 0, "pf_verify failed after the example");
  struct pf_counters c;
  pf_get_counters(&c);
  CHECK(c.managed_frames > 0x7000000 / 4096, "%llu frames managed of 128 MiB", (unsigned long long)c.managed_frames);
  /* Every free frame, taken one by one: all of them can be had (what the
   * example took came back), none inside the kernel's range. */
  static pf_phys_t taken[0x8000000 / 4096];
  size_t count = 0;
  while (count < sizeof taken / sizeof taken[0] &&
         (taken[count] = __real_alloc_pages(0, __GFP_NOWARN)) != 0)
    ++count;
  CHECK(count > 0 && count + 64 >= c.free_frames, "%zu frames taken, %llu counted free", count,
        (unsigned long long)c.free_frames);
  for (size_t i = 0; i < count; ++i)
    CHECK(taken[i] < 0x100000 || taken[i] >= 0x400000, "frame %#llx of the kernel handed out",
          (unsigned long long)taken[i]);
  for (size_t i = 0; i < count; ++i) free_pages(taken[i], 0);
  CHECK(pf_verify() == 0, "pf_verify failed after taking everything back");
  if (failures) return 1;
  printf("README embedding example: ran in a hosted C program (gcc, no C++ runtime): "
         "%llu frames managed, calls as README says\n", (unsigned long long)c.managed_frames);
  return 0;
}
