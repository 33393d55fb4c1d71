// shim.hpp — the LD_PRELOAD malloc (libpfalloc.so) inside: the heap behind
// malloc.cpp's entry points. Hosted code over pfalloc's public C API; the
// core knows nothing of it.
//
// Owns (heap.cpp): the one window (a single MAP_NORESERVE mapping reserved
// at first use and never split), the fake physical address space laid in it,
// first-use initialisation, growth by hot-adding slices (pf_add_memory), the
// table of big blocks, fork handlers, and the PFALLOC_STATS report.
//
// Sizes and paths (every block is found again from its address alone):
//   size <= 8 KiB          kmalloc slab object        kfree / ksize
//   8 KiB < size <= 1 MiB  kmalloc large block        kfree / ksize
//   size > 1 MiB ("big")   alloc_pages(order 9..10)   big table, then
//                          or alloc_contig(frames)    free_pages / free_contig
// A big block spans at least 2 MiB and big blocks never overlap, so no two
// start in the same 2 MiB granule: the table has one entry per granule of
// the window (start frame within the granule, frame count, kind), kept in
// the window's own first pages. free() looks there only for page-aligned
// pointers; everything else goes to kfree, which recognises slab objects
// and large blocks by their frame descriptors and names every bad pointer.
//
// Lock order: grow_lock (growth, fork) -> the allocator's locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "kernel/mm/pfalloc.h"
#include "kernel/mm/types.hpp"

namespace pf::preload {

inline constexpr size_t kSlabMax = 8 * KiB;        // pfalloc.h: kmalloc classes end here
inline constexpr size_t kBigMin = 1 * MiB;         // sizes above this are big blocks
inline constexpr unsigned kGranuleShift = 21;      // 2 MiB: the smallest big block
inline constexpr size_t kLargestBlock = kPageSize << kMaxOrder;  // 4 MiB
// Physical addresses start here: everything is zone Normal (no zone cut
// inside the window), and the virtual base is aligned to g_view.virt_align
// (kVirtAlign, or for a window smaller than that the largest power of two
// it holds; never below kLargestBlock), so a block aligned to A <=
// virt_align in physical memory is aligned in virtual memory too.
inline constexpr uint64_t kPhysBase = 4 * GiB;
inline constexpr uint64_t kVirtAlign = 1 * GiB;
// Flags of every allocation: out of memory is an answer here (we grow and
// retry, then say ENOMEM), never a log line. No reclaim inside the call
// (__GFP_NORECLAIM): growing the window is cheaper than emptying every
// cache, so the shim grows first and calls pf_reclaim itself only when the
// window is full.
inline constexpr gfp_t kGfp = __GFP_NOWARN | __GFP_NORECLAIM;

// The state every entry point reads; written once by init (and next_phys
// and friends under the growth lock).
struct HeapView {
  uintptr_t mem_virt = 0;  // virtual address of kPhysBase
  uint64_t mem_bytes = 0;  // physical memory the window can hold
  uintptr_t offset = 0;    // direct-map offset: virt = phys + offset
  // The largest alignment honoured: a power of two, kLargestBlock <=
  // virt_align <= kVirtAlign, mem_virt and offset are multiples of it, and
  // virt_align <= mem_bytes < 2 * virt_align unless virt_align == kVirtAlign
  // (so no larger alignment could be had inside the window anyway).
  uint64_t virt_align = 0;
};
extern HeapView g_view;
extern std::atomic<bool> g_ready;  // true once init is done (and g_view set)

// First use: reserves the window and starts the allocator. False when the
// address space refuses even a small window (every call then says ENOMEM).
[[gnu::cold, gnu::noinline]] bool init();
// One load (a plain mov on x86-64) on every entry point.
inline bool ready() { return __builtin_expect(g_ready.load(std::memory_order_acquire), 1) || init(); }

// Growth: called after an allocation failed. `need` bytes must fit as one
// contiguous free run (plus alignment `align`). Returns true if memory was
// added (by us or by another thread since `seen` was read), so the caller
// should retry; false when the window is exhausted.
uint64_t generation();
bool grow(uint64_t need, uint64_t align, uint64_t seen);

// The big-block table (heap.cpp): one entry per granule of the window.
extern std::atomic<uint64_t>* g_big_table;
// False if no big block starts in p's granule (or p is outside the window):
// a page-aligned pointer there is kfree's. One load, for free()'s fast path.
PF_FAST_PATH bool granule_has_big(const void* p) {
  const uint64_t off = reinterpret_cast<uintptr_t>(p) - g_view.mem_virt;
  return off < g_view.mem_bytes && g_big_table[off >> kGranuleShift].load(std::memory_order_relaxed) != 0;
}

// The size malloc(n) asks kmalloc for, n <= kSlabMax, so the object is
// aligned as malloc must be (malloc.cpp: every class above 16 bytes is a
// multiple of 16 but 24, so 17..24 becomes 32).
PF_FAST_PATH size_t abi_size(size_t n) {
  const size_t r = (n + 15) & ~size_t{15};
  return n > 16 ? r : n;
}

constexpr bool page_aligned(const void* p) { return (reinterpret_cast<uintptr_t>(p) & (kPageSize - 1)) == 0; }

// ---- Sized frees (free_sized, free_aligned_sized, C++ sized delete) ----------
// The caller names the request its allocation made: what malloc.cpp asked
// kmalloc for (a slab object or a large block) or big_alloc for (a big
// block); it is what kfree_sized wants, so an object of the class it names
// is freed by the class's cache without a lookup. Every pointer free()
// accepts is accepted with a size at most its usable size (an object
// realloc shrank in place, an aligned block freed with its plain size):
// the big-block table first for page-aligned pointers, as free() does,
// then kfree_sized, which frees anything kfree frees when size <= ksize(p)
// and names every pointer kfree names alike. A size above the usable size
// is misuse: slab-wrong-size, nothing freed (fatal here, as all misuse).

// The request malloc(n) / calloc / realloc made for n bytes: kmalloc's for
// n <= kSlabMax (malloc(0) asked for 1); above, n itself is all kfree_sized
// or the big table need (the block is at least n, and the lookup finds it).
PF_FAST_PATH size_t malloc_request(size_t n) {
  return __builtin_expect(n - 1 < kSlabMax, 1) ? abi_size(n) : (n != 0 ? n : 1);
}

// The request malloc.cpp's aligned(align, size) makes (memalign & co.):
// kmalloc's size up to kBigMin, big_alloc's above; align a power of two;
// 0 if the rounding overflows. malloc's own alignment (8, and 16 for sizes
// above 8) is malloc's request; a larger one rounds the size up to it (and
// above a page, past kSlabMax: a whole block, aligned to its size).
constexpr size_t aligned_request(size_t align, size_t size) {
  if (align <= 8) return malloc_request(size);
  if (align == 16) return malloc_request(size > 8 ? size : 16);
  size_t n = size != 0 ? size : 1;
  if (n > ~size_t{0} - (align - 1)) return 0;
  n = (n + align - 1) & ~(align - 1);
  if (align > kPageSize && n <= kSlabMax) n = kSlabMax + 1;
  return n;
}

[[gnu::noinline]] void free_request_slow(void* p, size_t request);
// free() with the allocation's request (above). The same dispatch as free():
// one load and kfree_sized's per-CPU push for a pointer not page aligned.
PF_FAST_PATH void free_request(void* p, size_t request) {
  if (__builtin_expect(g_ready.load(std::memory_order_acquire), 1)) {
    if (__builtin_expect(!page_aligned(p), 1)) return kfree_sized(p, request);
    if (p != nullptr && !granule_has_big(p)) return kfree_sized(p, request);
  }
  free_request_slow(p, request);
}

// Big blocks (> kBigMin): naturally aligned to at least `align`.
void* big_alloc(size_t size, size_t align, bool zero);
// True (and the block freed) if p is the start of a live big block.
bool big_free(void* p);
// Usable bytes of the big block starting at p, or 0 if p starts none.
size_t big_size(const void* p);
// Gives the pages of a page-aligned range back to the OS; they read as zero
// afterwards (MADV_DONTNEED on a private anonymous mapping). False if the
// kernel refused (pages the program locked with mlock or mlockall: madvise
// says EINVAL for them), the bytes then as they were.
bool discard(void* p, size_t bytes);
// Zeroes a page-aligned range: discard, or memset where that was refused.
void zero_pages(void* p, size_t bytes);

}  // namespace pf::preload

extern "C" {
// Introspection for the shim's tests (found with dlsym); not part of pfalloc.h.
struct pfalloc_preload_info {
  uint64_t window_bytes;   // physical memory the window can hold
  uint64_t managed_bytes;  // given to the allocator so far (pf_init + pf_add_memory)
  uint64_t grows;          // successful pf_add_memory calls
  uint64_t big_live;       // big blocks handed out and not freed
  uint64_t discarded_bytes;  // given back to the OS with madvise
  unsigned cpu_count;      // CPU slots the allocator was set up with
  unsigned slots_in_use;   // slots owned by live threads now
};
__attribute__((visibility("default"))) void pfalloc_preload_get_info(struct pfalloc_preload_info* out);
}
