// facade.hpp — the tiny test facade that lets one conformance case run both
// under GoogleTest (tests/unit/conformance_test.cpp) and inside the booted
// kernel (kernel/selftest.cpp). Freestanding: no gtest, no libc.
//
// A case gets a Context with the allocator(s) under test and a seed; it
// reports failures through PF_CHECK, which records file, line and the
// expression and lets the case go on (return early where continuing would
// crash). A request the case cannot go on without is checked with
// PF_CHECK_MEMORY and its MemoryNeed: on a machine too small for it (the
// kernel boots some of a few MiB with many CPUs) the runner's judge
// (judge.cpp) decides whether the refusal was the allocator's right; then
// the case frees what it holds, returns, and is reported skipped, named
// with the figures. The GoogleTest runners on their roomy machines give no
// judge: every refusal is a failure there. The runner, not the case, checks the rule every case must keep:
// the free-frame count after the case (per-CPU caches drained) equals the
// count before it, and verify() is clean.
//
// Registration is static: PF_CONFORMANCE_CASE(name) { ... } adds the case to a
// fixed table through a global constructor (the kernel runs .init_array).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pf {
class PageAllocator;
class SlabAllocator;
}  // namespace pf

namespace pf::conformance {

// What one refused request needed, for the judge (Context::out_of_memory):
//   block(order, header): a buddy block of `order` (alloc_pages, kmalloc's
//     large block, a new slab of a cache's smallest layout), and with
//     `header` a slab header (an object of kmem_slab, or a page for one);
//   contig(frames): that many free frames in a row in one range
//     (alloc_contig with ContigRequest{}'s page alignment, no limit);
//   cache(size, align, flags): kmem_cache_create's own needs (its record and its
//     per-CPU arrays, sized by the CPU count and the machine): judged by
//     asking again once everything is reclaimed (judge.cpp says why).
struct MemoryNeed {
  enum Kind : unsigned char { kBlock, kContig, kCacheCreate };
  Kind kind = kBlock;
  unsigned order = 0;
  bool slab_header = false;
  uint64_t frames = 0;
  uint64_t size = 0, align = 0;
  unsigned cache_flags = 0;
  static constexpr MemoryNeed block(unsigned order, bool slab_header = false) {
    return MemoryNeed{kBlock, order, slab_header, 0, 0, 0, 0};
  }
  static constexpr MemoryNeed contig(uint64_t frames) { return MemoryNeed{kContig, 0, false, frames, 0, 0, 0}; }
  static constexpr MemoryNeed cache(uint64_t size, uint64_t align, unsigned flags = 0) {
    return MemoryNeed{kCacheCreate, 0, false, 0, size, align, flags};
  }
};

// The buddy's rule, for judging an out-of-memory answer: with every CPU's
// cache drained (so every free frame is in a free block), `free_frames`
// free and the largest free block of order `largest_order` (-1: none), can
// the buddy hand out one block of `order` and then `extra_frames` single
// frames? Exactly when a block of `order` or larger is free (it is split,
// the rest stays free) and enough frames are left beside it, in any blocks.
constexpr bool buddy_could_hold(int largest_order, uint64_t free_frames, unsigned order, uint64_t extra_frames) {
  if (order > 63 || largest_order < static_cast<int>(order)) return false;
  const uint64_t block = uint64_t{1} << order;
  return free_frames >= block && free_frames - block >= extra_frames;
}

struct Context {
  PageAllocator& pages;
  SlabAllocator* slab;  // nullptr where the slab layer is not part of the run
  uint64_t seed;
  const char* case_name = "";
  unsigned checks = 0;
  unsigned failures = 0;
  // Called on the first failures; the runner supplies it (gtest or serial).
  void (*on_failure)(const Context&, const char* expr, const char* file, int line) = nullptr;

  // Out of memory (kernel runner only): judges a request the case cannot
  // go on without that came back null, right after it (nothing freed in
  // between). True when the allocator was right: by its rules the machine
  // could not hold it (the runner drains every cache and shrinks the slab
  // caches, as the allocator's own retry does, and finds no room for
  // `need`); it sets skip_reason, and the case frees what it holds and
  // returns, reported skipped. False when memory for it was there: a
  // failure. Null (the GoogleTest runners, 128 MiB machines): every null is
  // a failure.
  bool (*judge_no_memory)(Context&, MemoryNeed need, const char* what) = nullptr;
  const char* skip_reason = nullptr;

  bool out_of_memory(MemoryNeed need, const char* what, const char* file, int line) {
    if (judge_no_memory != nullptr && judge_no_memory(*this, need, what)) {
      ++checks;  // a check, judged: the case did check something
      return true;
    }
    check(false, what, file, line);
    return false;
  }

  bool check(bool ok, const char* expr, const char* file, int line) {
    ++checks;
    if (!ok) {
      ++failures;
      if (on_failure != nullptr) on_failure(*this, expr, file, line);
    }
    return ok;
  }
};

// The judge both runners use (judge.cpp): true, with ctx.skip_reason set,
// when no room for `need` is left even after every cache is drained and
// shrunk; false when there is (the null was the allocator's failure).
// Needs ctx.slab for a slab need's header.
bool judge_no_memory_by_the_rules(Context& ctx, MemoryNeed need, const char* what);

using CaseFn = void (*)(Context&);
struct Case {
  const char* name;
  CaseFn fn;
  bool needs_slab;
};

inline constexpr size_t kMaxCases = 128;
// The registered cases, in registration order.
size_t case_count();
const Case& case_at(size_t i);
bool register_case(const char* name, CaseFn fn, bool needs_slab);

// A small deterministic PRNG (splitmix64) so the cases need no libc.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
};

}  // namespace pf::conformance

#define PF_CHECK(ctx, cond) (ctx).check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)
// PF_CHECK(ctx, cond) where cond says a request the case cannot go on
// without was met (p != nullptr, !a.is_null()), and its failure may be the
// machine's size (Context::out_of_memory): false when cond is, and then
// either a failure or, judged out of memory by the rules, a skip (the case
// cleans up and returns either way). `need` is the MemoryNeed.
#define PF_CHECK_MEMORY(ctx, cond, need)                                              \
  (static_cast<bool>(cond) ? (ctx).check(true, #cond, __FILE__, __LINE__)             \
                           : ((ctx).out_of_memory((need), #cond, __FILE__, __LINE__), false))

#define PF_CONFORMANCE_CASE_IMPL(name, needs_slab)                                 \
  static void pf_case_##name(::pf::conformance::Context& ctx);                      \
  [[maybe_unused]] static const bool pf_case_registered_##name =                    \
      ::pf::conformance::register_case(#name, &pf_case_##name, needs_slab);         \
  static void pf_case_##name(::pf::conformance::Context& ctx)

// Page-allocator cases, and cases that also need the slab layer.
#define PF_CONFORMANCE_CASE(name) PF_CONFORMANCE_CASE_IMPL(name, false)
#define PF_SLAB_CONFORMANCE_CASE(name) PF_CONFORMANCE_CASE_IMPL(name, true)
