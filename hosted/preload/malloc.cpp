// malloc.cpp — the C allocation entry points of libpfalloc.so (LD_PRELOAD):
// malloc, free, calloc, realloc, reallocarray, posix_memalign, aligned_alloc,
// memalign, valloc, pvalloc, malloc_usable_size, and C23's free_sized and
// free_aligned_sized. C++'s operators reach them through libstdc++, but for
// the sized deletes (delete.cpp). Semantics are glibc 2.36's (see each function); the
// size paths and the big-block table are described in shim.hpp.
//
// Fast paths: malloc of at most 8 KiB is one load (ready), one compare and
// kmalloc's per-CPU pop; free of a pointer that is not page aligned is one
// load and kfree's per-CPU push. Everything else is out of line.
//
// Alignment. malloc(n) is 16-aligned for n > 8 (C17 7.22.3: aligned for any
// type of fundamental alignment whose size is <= n, so max_align_t's 16 as
// soon as a 16-byte type fits; glibc gives 16 always) and 8-aligned for
// n <= 8. kmalloc aligns a class's objects to the largest power of two
// dividing the class size (slab.hpp); every class above 16 bytes is a
// multiple of 16 but 24, so n > 16 is rounded up to a multiple of 16 first
// (17..24 -> 32; no other class changes). Blocks above 8 KiB are aligned
// to their size.
// An explicit alignment A <= 4 KiB asks kmalloc for n rounded up to a
// multiple of A: the smallest class holding such a size is a multiple of A
// (the classes are 2^k and 3 * 2^k), so its objects are A-aligned. Above
// 4 KiB the request is made larger than 8 KiB, so it is a whole buddy
// block, aligned to its own size (>= A). Up to 1 GiB (shim.hpp: kVirtAlign;
// less in a window smaller than 1 GiB, g_view.virt_align).
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "hosted/preload/shim.hpp"
#include "kernel/mm/error.hpp"
#include "kernel/mm/text.hpp"

#define PF_EXPORT extern "C" __attribute__((visibility("default")))

using namespace pf::preload;
using pf::kPageSize;

namespace {

// calloc above this size zeroes by discarding pages (glibc's mmap threshold).
constexpr size_t kZeroByDiscard = 128 * 1024;

// kmalloc (n <= kBigMin), growing the heap and retrying when it fails;
// null and ENOMEM once the window is exhausted.
[[gnu::noinline]] void* kmalloc_growing(size_t n, gfp_t flags) {
  for (int attempt = 0;; ++attempt) {
    const uint64_t seen = generation();
    if (void* p = kmalloc(n, flags)) return p;
    if (attempt < 8 && grow(n, 0, seen)) continue;
    if (attempt < 9) {
      pf_reclaim();
      attempt = 8;
      continue;
    }
    errno = ENOMEM;
    return nullptr;
  }
}

[[gnu::noinline]] void* malloc_slow(size_t n, bool zero) {
  if (!ready()) {
    errno = ENOMEM;
    return nullptr;
  }
  if (n == 0) n = 1;  // glibc: a unique pointer that free() accepts
  if (n > kBigMin) return big_alloc(n, 0, zero);
  if (!zero || n <= kSlabMax) return kmalloc_growing(abi_size(n), kGfp | (zero ? __GFP_ZERO : 0));
  // calloc of a whole block: zero the n bytes asked for, not the block
  // (a power of two, up to twice as large); from kZeroByDiscard on, let the
  // OS do it page by page as the program touches them (as glibc's fresh
  // mmap chunks do), so untouched pages stay out of the resident set.
  void* p = kmalloc_growing(n, kGfp);
  if (p == nullptr) return nullptr;
  if (n >= kZeroByDiscard)
    zero_pages(p, (n + kPageSize - 1) & ~(kPageSize - 1));
  else
    memset(p, 0, n);
  return p;
}

// align: a power of two.
void* aligned(size_t align, size_t size) {
  if (!ready()) {
    errno = ENOMEM;
    return nullptr;
  }
  if (align <= 8) return malloc_slow(size, false);
  if (align == 16) return malloc_slow(size > 8 ? size : 16, false);
  const size_t n = aligned_request(align, size);
  if (align > g_view.virt_align || n == 0) {
    errno = ENOMEM;
    return nullptr;
  }
  if (n <= kBigMin) return kmalloc_growing(n, kGfp);
  return big_alloc(n, align, false);
}

// glibc 2.36's memalign: an alignment that is not a power of two is
// rounded up to one (the caller checked it is at most SIZE_MAX / 2 + 1).
constexpr size_t memalign_alignment(size_t align) {
  return align != 0 && (align & (align - 1)) != 0 ? size_t{1} << (64 - __builtin_clzll(align)) : align;
}

size_t usable(const void* p) {
  if (page_aligned(p))
    if (const size_t big = big_size(p)) return big;
  return ksize(p);
}

[[gnu::noinline]] void free_slow(void* p) {
  if (p == nullptr) return;
  // Not ours before init: start the allocator so kfree can name the pointer.
  if (!ready()) return;
  if (page_aligned(p) && big_free(p)) return;
  kfree(p);
}

}  // namespace

// Sized frees (shim.hpp): a page-aligned pointer may start a big block; one
// freed with a size above its frames is misuse, named as kfree_sized names
// it for a slab object (and refused). Everything else is kfree_sized's,
// which starts the allocator first, as free_slow does, so that it can name
// a pointer that is none of ours.
void pf::preload::free_request_slow(void* p, size_t request) {
  if (p == nullptr || !ready()) return;
  if (page_aligned(p))
    if (const size_t have = big_size(p)) {
      if (request > have) {
        char detail[112];
        pf::TextBuffer t(detail, sizeof detail);
        t.str("sized free: size ").dec(request).str(" is above the block's ").dec(have).str(" bytes");
        pf::report(pf::ErrorReport{.code = pf::ErrorCode::SlabWrongSize, .detail = t.c_str(),
                                   .address = reinterpret_cast<uintptr_t>(p), .address_is_virtual = true,
                                   .caller = PF_CALLER});
        return;
      }
      if (big_free(p)) return;  // else a racing free took it: kfree_sized names the pointer
    }
  kfree_sized(p, request);
}

PF_EXPORT void* malloc(size_t n) noexcept {
  if (__builtin_expect(n - 1 < kSlabMax && g_ready.load(std::memory_order_acquire), 1))
    if (void* p = kmalloc(abi_size(n), kGfp)) return p;
  return malloc_slow(n, false);
}

PF_EXPORT void free(void* p) noexcept {
  if (__builtin_expect(g_ready.load(std::memory_order_acquire), 1)) {
    if (__builtin_expect(!page_aligned(p), 1)) return kfree(p);
    if (p != nullptr && !granule_has_big(p)) return kfree(p);  // a 4 KiB object, say
  }
  free_slow(p);
}

// C23 (glibc 2.36 declares neither; C linkage as every other entry point).
// free_sized(p, n): p from malloc(n), calloc(m, k) with m * k == n, or
// realloc(_, n); free_aligned_sized(p, a, n): p from aligned_alloc(a, n).
// Both accept whatever free() accepts, with any size up to the usable one
// (shim.hpp), and refuse a larger one by name.
PF_EXPORT void free_sized(void* p, size_t size) noexcept { free_request(p, malloc_request(size)); }

PF_EXPORT void free_aligned_sized(void* p, size_t align, size_t size) noexcept {
  // An alignment aligned_alloc would refuse, or that no block can have (so
  // p is no block of aligned_alloc's): judged by the size alone.
  const size_t a = align <= kVirtAlign ? memalign_alignment(align) : 0;
  const size_t request = a != 0 ? aligned_request(a, size) : 0;
  free_request(p, request != 0 ? request : malloc_request(size));
}

// n * size overflowing is ENOMEM (glibc).
PF_EXPORT void* calloc(size_t n, size_t size) noexcept {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (__builtin_expect(bytes - 1 < kSlabMax && g_ready.load(std::memory_order_acquire), 1))
    if (void* p = kmalloc(abi_size(bytes), kGfp | __GFP_ZERO)) return p;
  return malloc_slow(bytes, true);
}

// glibc: realloc(NULL, n) is malloc(n); realloc(p, 0) frees p and returns
// NULL; on failure NULL, errno ENOMEM, p untouched. Stays in place while the
// new size fits and uses at least half the block (a shrink never fails: if
// no smaller block is to be had, p stays); a big block shrunk in place gives
// its unused tail pages back to the OS, and one that grows moves to a block
// at least half as large again.
PF_EXPORT void* realloc(void* p, size_t n) noexcept {
  if (p == nullptr) return malloc(n);
  if (n == 0) {
    free(p);
    return nullptr;
  }
  if (!ready()) {
    errno = ENOMEM;
    return nullptr;
  }
  const size_t have = usable(p);  // a bad pointer is reported (fatal) here
  if (n <= have) {
    if (n > have / 2 || have <= 16) {
      if (have > kBigMin) {
        const size_t keep = (n + kPageSize - 1) & ~(kPageSize - 1);
        if (have - keep >= kBigMin) discard(static_cast<char*>(p) + keep, have - keep);
      }
      return p;
    }
    void* q = malloc(n);
    if (q == nullptr) return p;
    memcpy(q, p, n);
    free(p);
    return q;
  }
  // A big block grows by at least half: a program growing a buffer a little
  // at a time (glibc moves big chunks with mremap, without copying) then
  // copies O(log n) times, not O(n). The headroom is untouched frames.
  void* q = nullptr;
  if (n > kBigMin && have > kBigMin && have + have / 2 > n && have + have / 2 > have) {
    const int saved = errno;
    q = malloc(have + have / 2);
    if (q == nullptr) errno = saved;
  }
  if (q == nullptr) q = malloc(n);
  if (q == nullptr) return nullptr;  // errno set by malloc
  memcpy(q, p, have);
  free(p);
  return q;
}

PF_EXPORT void* reallocarray(void* p, size_t n, size_t size) noexcept {
  size_t bytes;
  if (__builtin_mul_overflow(n, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, bytes);
}

// EINVAL unless align is a power of two multiple of sizeof(void*); ENOMEM
// (returned, *out untouched) when no memory. errno is left as it was.
PF_EXPORT int posix_memalign(void** out, size_t align, size_t size) noexcept {
  if (align < sizeof(void*) || (align & (align - 1)) != 0) return EINVAL;
  const int saved = errno;
  void* p = aligned(align, size);
  errno = saved;
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}

// glibc 2.36 (aligned_alloc is memalign there): an alignment that is not a
// power of two is rounded up to one; one above SIZE_MAX / 2 + 1 is EINVAL.
PF_EXPORT void* memalign(size_t align, size_t size) noexcept {
  if (align > (~size_t{0} >> 1) + 1) {
    errno = EINVAL;
    return nullptr;
  }
  return aligned(memalign_alignment(align), size);
}

PF_EXPORT void* aligned_alloc(size_t align, size_t size) noexcept { return memalign(align, size); }

PF_EXPORT void* valloc(size_t size) noexcept { return aligned(kPageSize, size); }

// The size rounded up to whole pages (0: one page), page aligned.
PF_EXPORT void* pvalloc(size_t size) noexcept {
  if (size > ~size_t{0} - (kPageSize - 1)) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t n = (size + kPageSize - 1) & ~(kPageSize - 1);
  return aligned(kPageSize, n != 0 ? n : kPageSize);
}

PF_EXPORT size_t malloc_usable_size(void* p) noexcept {
  if (p == nullptr || !ready()) return 0;
  return usable(p);
}
