// peers.hpp — the allocators pfalloc is measured against, each behind the
// same small interface so one workload template serves them all:
//
//   Page page_alloc()                 one 4 KiB, 4 KiB-aligned page, or null
//   void page_free(Page)
//   Page block_alloc(unsigned order)  4 KiB << order bytes, aligned to its size
//   void block_free(Page, unsigned order)
//   void* obj_alloc(size_t) / void obj_free(void*, size_t)   (malloc-like peers)
//
// Each peer is called through its own API, never through `malloc`: mimalloc,
// jemalloc and tcmalloc all export `malloc` too, so glibc's allocator is
// reached by dlsym on libc.so.6 (glibc_api()), and the others by their
// prefixed entry points (mi_*, mallocx/sdallocx, tc_*). The bench links libc
// first so the process's own malloc (the harness's) is glibc's as well.
//
// The floors: IdealStack is an array of page addresses popped and pushed
// through out-of-line calls (as every allocator API is called); nothing can
// hand out a page with less work. The memset floor for initialisation lives
// in bench_init.cpp.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include <gperftools/tcmalloc.h>
#include <mimalloc.h>

#include "kernel/mm/types.hpp"

// jemalloc's header redeclares the malloc family with its own attributes;
// the two entry points used here are declared directly (un-prefixed on
// Debian: `nm -D libjemalloc.so.2` shows mallocx and sdallocx).
extern "C" {
void* mallocx(size_t size, int flags);
void sdallocx(void* ptr, size_t size, int flags);
}

namespace pf::bench {

inline constexpr size_t kPage = 4096;

// jemalloc's MALLOCX_ALIGN(a) for a power of two is log2(a).
constexpr int jemalloc_align_flag(size_t align) { return __builtin_ctzll(align); }

struct GlibcApi {
  void* (*malloc)(size_t) = nullptr;
  void (*free)(void*) = nullptr;
  void* (*aligned_alloc)(size_t, size_t) = nullptr;
};
// Resolved once from libc.so.6; aborts with a message if that fails.
const GlibcApi& glibc_api();
// True when the process-wide `malloc` is glibc's (link order check).
bool process_malloc_is_glibc();

inline bool is_null(const void* p) { return p == nullptr; }
inline bool is_null(uintptr_t p) { return p == 0; }
inline bool is_null(PhysAddr p) { return p.is_null(); }

struct Glibc {
  static constexpr const char* kName = "glibc";
  using Page = void*;
  const GlibcApi& api = glibc_api();
  Page page_alloc() { return api.aligned_alloc(kPage, kPage); }
  void page_free(Page p) { api.free(p); }
  Page block_alloc(unsigned order) { return api.aligned_alloc(kPage << order, kPage << order); }
  void block_free(Page p, unsigned) { api.free(p); }
  void* obj_alloc(size_t n) { return api.malloc(n); }
  void obj_free(void* p, size_t) { api.free(p); }
};

struct Mimalloc {
  static constexpr const char* kName = "mimalloc";
  using Page = void*;
  Page page_alloc() { return mi_malloc_aligned(kPage, kPage); }
  void page_free(Page p) { mi_free(p); }
  Page block_alloc(unsigned order) { return mi_malloc_aligned(kPage << order, kPage << order); }
  void block_free(Page p, unsigned) { mi_free(p); }
  void* obj_alloc(size_t n) { return mi_malloc(n); }
  void obj_free(void* p, size_t) { mi_free(p); }
};

struct Jemalloc {
  static constexpr const char* kName = "jemalloc";
  using Page = void*;
  static constexpr int kPageFlags = jemalloc_align_flag(kPage);
  Page page_alloc() { return mallocx(kPage, kPageFlags); }
  void page_free(Page p) { sdallocx(p, kPage, kPageFlags); }
  Page block_alloc(unsigned order) {
    return mallocx(kPage << order, jemalloc_align_flag(kPage << order));
  }
  void block_free(Page p, unsigned order) {
    sdallocx(p, kPage << order, jemalloc_align_flag(kPage << order));
  }
  void* obj_alloc(size_t n) { return mallocx(n, 0); }
  void obj_free(void* p, size_t n) { sdallocx(p, n, 0); }
};

struct Tcmalloc {
  static constexpr const char* kName = "tcmalloc";
  using Page = void*;
  Page page_alloc() { return tc_memalign(kPage, kPage); }
  void page_free(Page p) { tc_free(p); }
  Page block_alloc(unsigned order) { return tc_memalign(kPage << order, kPage << order); }
  void block_free(Page p, unsigned) { tc_free(p); }
  void* obj_alloc(size_t n) { return tc_malloc(n); }
  void obj_free(void* p, size_t n) { tc_free_sized(p, n); }
};

// One page per mmap call, as a language runtime's page allocator does.
// Natural alignment beyond 4 KiB is not something mmap offers, so this peer
// has no block_alloc and sits out the mixed-order workload.
struct Mmap {
  static constexpr const char* kName = "mmap";
  using Page = void*;
  Page page_alloc() {
    void* p = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : p;
  }
  void page_free(Page p) { munmap(p, kPage); }
};

// The floor for an order-0 pair: pop and push on an array of page addresses.
class IdealStack {
 public:
  // Holds `pages` page addresses of a made-up range (never dereferenced).
  explicit IdealStack(size_t pages);
  __attribute__((noinline)) uintptr_t pop();
  __attribute__((noinline)) void push(uintptr_t page);
  size_t size() const { return top_; }

 private:
  std::vector<uintptr_t> slots_;
  size_t top_ = 0;
};

struct Ideal {
  static constexpr const char* kName = "ideal";
  using Page = uintptr_t;
  IdealStack* stack;
  Page page_alloc() { return stack->pop(); }
  void page_free(Page p) { stack->push(p); }
};

}  // namespace pf::bench
