// fault_injection_test.cpp — every out-of-memory path, walked one by one, in
// the spirit of Zig's std.testing.checkAllAllocationFailures.
//
// A workload (caches with and without constructors, a debug cache, objects,
// kmalloc of every class and of large sizes, kzalloc/kcalloc/kmalloc_aligned,
// a krealloc growth chain, alloc_pages of several orders and zones,
// alloc_contig with alignment and a boundary, churn) stops at the first
// null it is given, frees everything it holds and destroys its caches.
// First it runs with injection armed but never firing, which counts the
// allocations it makes (C); then, for every N in 1..C, it runs with the Nth
// allocation and every later one failing. For each N:
//   * some call returned null (the workload ends with a page and an object
//     allocation, so a failure absorbed inside the allocator still surfaces);
//   * no error was reported (ErrorRecorder: 0) and nothing crashed;
//   * after the cleanup, shrink_all() and a drain of the per-CPU caches, the
//     free-frame count equals the one before the run, and both verify()s
//     are clean.
// And for N = C + 1 the workload completes: C is exact, the walk covers
// every allocation the workload makes.
//
// Two walks: page-level (PageAllocator::set_fail_after: slab growth,
// per-CPU arrays, large kmalloc blocks, pages, contig ranges all fail) and
// object-level (SlabAllocator::set_fail_after: cache_alloc and the kmalloc
// family fail before touching a slab).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::check_pattern;
using test::fill_pattern;

constexpr uint64_t kArmedNeverFiring = ~uint64_t{0};
constexpr uint32_t kConstructed = 0xc0257c7e;

void construct(void* p) { std::memcpy(p, &kConstructed, sizeof kConstructed); }
bool constructed(const void* p) { return std::memcmp(p, &kConstructed, sizeof kConstructed) == 0; }

// The workload. run() returns the name of the step that got the first null
// (nullptr if it ran to the end); either way it has given everything back.
class Workload {
 public:
  Workload(PageAllocator& pages, SlabAllocator& slab) : pages_(pages), slab_(slab) {}
  ~Workload() { EXPECT_TRUE(held_.empty() && caches_.empty()) << "the workload kept something"; }

  const char* run() {
    const char* where = steps();
    release_all();
    return where;
  }

 private:
  enum class Kind { Object, Kmalloc, Pages, Contig };
  struct Held {
    Kind kind;
    void* p = nullptr;
    KmemCache* cache = nullptr;
    PhysAddr phys;
    unsigned order = 0;
    uint64_t frames = 0;
    size_t size = 0;  // bytes carrying the pattern
    bool ctor = false;
    uint64_t seed = 0;
  };

  // Each returns false when the allocator said no.
  bool cache(const char* name, size_t size, size_t align, unsigned flags, bool ctor, KmemCache** out) {
    *out = slab_.cache_create(name, size, align, flags, ctor ? &construct : nullptr);
    if (*out == nullptr) return false;
    caches_.push_back(*out);
    return true;
  }
  bool object(KmemCache* c, bool ctor) {
    void* p = slab_.cache_alloc(c, __GFP_NOWARN);
    if (p == nullptr) return false;
    EXPECT_TRUE(!ctor || constructed(p)) << "object of " << c->name() << " handed out unconstructed";
    keep({.kind = Kind::Object, .p = p, .cache = c, .size = c->object_size(), .ctor = ctor});
    return true;
  }
  bool km(size_t size, gfp_t flags = 0) {
    void* p = slab_.kmalloc(size, flags | __GFP_NOWARN);
    if (p == nullptr) return false;
    if (flags & __GFP_ZERO) expect_zero(p, size, "kzalloc");
    keep({.kind = Kind::Kmalloc, .p = p, .size = size});
    return true;
  }
  bool km_aligned(size_t size, size_t align) {
    void* p = slab_.kmalloc_aligned(size, align, __GFP_NOWARN);
    if (p == nullptr) return false;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % align, 0u);
    keep({.kind = Kind::Kmalloc, .p = p, .size = size});
    return true;
  }
  bool kc(size_t n, size_t size) {
    void* p = slab_.kcalloc(n, size, __GFP_NOWARN);
    if (p == nullptr) return false;
    expect_zero(p, n * size, "kcalloc");
    keep({.kind = Kind::Kmalloc, .p = p, .size = n * size});
    return true;
  }
  bool pages(unsigned order, gfp_t flags) {
    const PhysAddr a = pages_.alloc_pages(Order{order}, flags | __GFP_NOWARN);
    if (a.is_null()) return false;
    void* p = pages_.to_virt<void>(a);
    if (flags & __GFP_ZERO) expect_zero(p, Order{order}.bytes(), "alloc_pages(__GFP_ZERO)");
    keep({.kind = Kind::Pages, .p = p, .phys = a, .order = order, .size = Order{order}.bytes()});
    return true;
  }
  bool contig(uint64_t frames, ContigRequest rq) {
    rq.flags |= __GFP_NOWARN;
    const PhysAddr a = pages_.alloc_contig(frames, rq);
    if (a.is_null()) return false;
    keep({.kind = Kind::Contig, .p = pages_.to_virt<void>(a), .phys = a, .frames = frames,
          .size = frames * kPageSize});
    return true;
  }
  // kmalloc(16), then krealloc to twice the size up to 128 KiB: each move
  // keeps the bytes; a failed one leaves the old block held and intact.
  bool realloc_chain() {
    if (!km(16)) return false;
    for (size_t size = 32; size <= 128 * KiB; size *= 2) {
      Held& h = held_.back();
      void* q = slab_.krealloc(h.p, size, __GFP_NOWARN);
      if (q == nullptr) {
        EXPECT_TRUE(check_pattern(h.p, h.size, h.seed)) << "a failed krealloc changed the block";
        return false;
      }
      EXPECT_TRUE(check_pattern(q, h.size, h.seed)) << "krealloc to " << size << " lost bytes";
      h.p = q;
      h.size = size;
      fill_pattern(q, size, h.seed);
    }
    return true;
  }

  const char* steps() {
    KmemCache *ctor_cache, *big, *huge, *debug;
    if (!cache("fi-ctor", 72, 0, 0, true, &ctor_cache)) return "cache_create(ctor)";
    if (!cache("fi-big", 3000, 64, SLAB_HWCACHE_ALIGN, false, &big)) return "cache_create(3000)";
    if (!cache("fi-huge", 20000, 0, SLAB_NO_COLOUR, false, &huge)) return "cache_create(20000)";
    if (!cache("fi-debug", 100, 0, SLAB_DEBUG, true, &debug)) return "cache_create(debug)";
    for (int i = 0; i < 40; ++i)
      if (!object(ctor_cache, true)) return "cache_alloc(ctor)";
    for (int i = 0; i < 8; ++i)
      if (!object(big, false)) return "cache_alloc(3000)";
    for (int i = 0; i < 3; ++i)
      if (!object(huge, false)) return "cache_alloc(20000)";
    for (int i = 0; i < 6; ++i)
      if (!object(debug, true)) return "cache_alloc(debug)";
    for (uint32_t size : kKmallocSizes)
      if (!km(size)) return "kmalloc(class size)";
    for (size_t size : {1, 7, 100, 500, 1000, 5000, 8193, 20000, 100000, 1 << 20})
      if (!km(size)) return "kmalloc(odd or large size)";
    if (!km(300, __GFP_ZERO) || !km(50000, __GFP_ZERO)) return "kzalloc";
    if (!kc(10, 100)) return "kcalloc";
    if (!km_aligned(100, 8192) || !km_aligned(24, 256)) return "kmalloc_aligned";
    if (!realloc_chain()) return "krealloc";
    for (unsigned order = 0; order <= 6; ++order)
      if (!pages(order, order % 3 == 0 ? __GFP_ZERO : 0)) return "alloc_pages";
    if (!pages(1, __GFP_DMA) || !pages(2, __GFP_DMA32)) return "alloc_pages(zone)";
    if (!contig(5, {.align = 16 * KiB})) return "alloc_contig(align)";
    if (!contig(33, {.boundary = 1 * MiB, .flags = __GFP_DMA32})) return "alloc_contig(boundary)";
    // Churn: give back every other allocation, then take more.
    for (size_t i = held_.size(); i-- > 0;)
      if (i % 2 == 1) release(i);
    for (int i = 0; i < 20; ++i)
      if (!km(64 + 8 * i)) return "kmalloc(churn)";
    for (int i = 0; i < 20; ++i)
      if (!object(ctor_cache, true)) return "cache_alloc(churn)";
    // One object and one page last: a failure the allocator absorbed
    // (a partial per-CPU refill, say) still ends in a null here.
    if (!km(8)) return "kmalloc(last)";
    if (!pages(0, 0)) return "alloc_pages(last)";
    return nullptr;
  }

  void keep(Held h) {
    h.seed = ++seeds_ * 7919;
    if (h.ctor) fill_pattern(static_cast<char*>(h.p) + 4, h.size - 4, h.seed);
    else fill_pattern(h.p, h.size, h.seed);
    held_.push_back(h);
  }
  void expect_zero(const void* p, size_t n, const char* what) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; ++i)
      if (b[i] != 0) {
        ADD_FAILURE() << what << ": byte " << i << " of " << n << " is not zero";
        return;
      }
  }

  void release(size_t i) {
    Held h = held_[i];
    held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
    if (h.ctor) {
      EXPECT_TRUE(check_pattern(static_cast<char*>(h.p) + 4, h.size - 4, h.seed));
      EXPECT_TRUE(constructed(h.p));
    } else {
      EXPECT_TRUE(check_pattern(h.p, h.size, h.seed)) << "an allocation changed while held";
    }
    switch (h.kind) {
      case Kind::Object: slab_.cache_free(h.cache, h.p); break;
      case Kind::Kmalloc: slab_.kfree(h.p); break;
      case Kind::Pages: pages_.free_pages(h.phys, Order{h.order}); break;
      case Kind::Contig: pages_.free_contig(h.phys, h.frames); break;
    }
  }
  void release_all() {
    while (!held_.empty()) release(held_.size() - 1);
    for (KmemCache* c : caches_) EXPECT_EQ(slab_.cache_destroy(c), 0u) << c->name();
    caches_.clear();
  }

  PageAllocator& pages_;
  SlabAllocator& slab_;
  std::vector<Held> held_;
  std::vector<KmemCache*> caches_;
  uint64_t seeds_ = 0;
};

class FaultInjection : public test::SlabFixture {
 protected:
  uint64_t ram_bytes() const override { return 32 * MiB; }

  // What a run must come back to, caches shrunk and per-CPU pages drained:
  // the free-frame count, and slabinfo (every cache's objects and slabs: a
  // leaked object keeps its slab's row from matching even where the slab
  // stays for other objects, as the kmem_cache records' slab does).
  struct Settled {
    uint64_t free = 0;
    std::string slabinfo;
    bool operator==(const Settled&) const = default;
  };
  Settled settled() {
    slab_.shrink_all();
    pages().drain_cpu_caches();
    static char buf[16384];
    TextBuffer t(buf, sizeof buf);
    slab_.format_slabinfo(t);
    EXPECT_FALSE(t.truncated());
    return {free_frames(), buf};
  }

  // Runs the workload with injection armed by `arm(n)` and read back by
  // `calls()`; returns where the first null surfaced.
  template <typename Arm, typename Calls>
  void walk(const char* layer, Arm arm, Calls calls) {
    const Settled baseline = settled();
    ASSERT_TRUE(Clean());

    // Count: armed, never firing (the same paths as the runs below).
    uint64_t count = 0;
    {
      test::ErrorRecorder rec;
      arm(kArmedNeverFiring);
      Workload w(pages(), slab_);
      const char* where = w.run();
      count = calls();
      arm(0);
      ASSERT_EQ(where, nullptr) << "the workload fails with no injection, at " << where;
      ASSERT_EQ(rec.count(), 0u) << rec.last_message();
    }
    ASSERT_TRUE(settled() == baseline) << "the uninjected workload left something behind";
    std::printf("[ %s ] the workload makes %llu %s allocations\n", layer,
                static_cast<unsigned long long>(count), layer);
    ASSERT_GT(count, 20u) << "too small a workload to mean anything";

    std::map<std::string, unsigned> first_null_at;
    for (uint64_t n = 1; n <= count + 1; ++n) {
      SCOPED_TRACE(::testing::Message() << layer << " allocation " << n << " of " << count << " fails");
      test::ErrorRecorder rec;
      const char* where;
      {
        arm(n);
        Workload w(pages(), slab_);
        where = w.run();
        arm(0);
      }
      if (n <= count) {
        EXPECT_NE(where, nullptr) << "no call returned null";
        if (where != nullptr) ++first_null_at[where];
      } else {
        EXPECT_EQ(where, nullptr) << "allocation " << n << " is past the count, yet " << where << " failed";
      }
      EXPECT_EQ(rec.count(), 0u) << (rec.count() ? rec.last_message() : std::string());
      const Settled after = settled();
      EXPECT_EQ(after.free, baseline.free) << "frames leaked";
      EXPECT_EQ(after.slabinfo, baseline.slabinfo) << "objects or slabs leaked";
      EXPECT_TRUE(Clean());
      if (HasFailure()) break;  // one N's report is enough to go on
    }
    std::string where;
    for (const auto& [step, runs] : first_null_at) where += " " + step + "=" + std::to_string(runs);
    std::printf("[ %s ] each of the %llu failed in turn; first null by step:%s\n", layer,
                static_cast<unsigned long long>(count), where.c_str());
    // A failure surfacing only at the final sentinel calls is one the
    // allocator absorbed; most must surface where they happen.
    const unsigned at_sentinel = first_null_at["kmalloc(last)"] + first_null_at["alloc_pages(last)"];
    EXPECT_LT(at_sentinel * 2, count) << "most injected failures never reached the caller";
  }
};

TEST_F(FaultInjection, EveryPageAllocationFailureReturnsNullAndLeaksNothing) {
  walk(
      "page", [&](uint64_t n) { pages().set_fail_after(n); }, [&] { return pages().fail_after_calls(); });
}

TEST_F(FaultInjection, EveryObjectAllocationFailureReturnsNullAndLeaksNothing) {
  walk(
      "object", [&](uint64_t n) { slab_.set_fail_after(n); }, [&] { return slab_.fail_after_calls(); });
}

}  // namespace
}  // namespace pf
