// reclaim_test.cpp — reclaim.hpp: an allocation that runs out of memory
// while the slab layer holds reclaimable memory gets it back before it says
// no, once, and only where its flags allow and its failure was for lack of
// memory.
//
// Each test fills the slab layer with freed objects (per-CPU arrays, depot,
// empty slabs kept), then takes every free frame from the buddy, so the
// frames the slab layer holds are all that is left: the page layer's own
// call fails, the Reclaimer's and the slab layer's succeed with GFP_KERNEL,
// and with GFP_ATOMIC, GFP_NOWAIT or __GFP_NORETRY fail and reclaim nothing.
// Misuse and injected failures are not retried.
// A small machine (16 MiB) keeps the exhaustion cheap; every test gives all
// back (the fixture checks the free count and verify()).
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "kernel/mm/reclaim.hpp"
#include "tests/unit/slab_fixture.hpp"

namespace pf::test {
namespace {

class Reclaim : public SlabFixture {
 protected:
  uint64_t ram_bytes() const override { return 16 * MiB; }

  void TearDown() override {
    give_back();
    SlabFixture::TearDown();
  }

  // n objects of `size` allocated and freed: the slab layer keeps them
  // (arrays, depot, empty slabs). Returns the frames it holds for them
  // (the test holding nothing else).
  uint64_t fill_slab(size_t size, unsigned n) {
    std::vector<void*> objs;
    for (unsigned i = 0; i < n; ++i) objs.push_back(slab_.kmalloc(size, GFP_KERNEL));
    for (void* p : objs) EXPECT_NE(p, nullptr);
    for (void* p : objs) slab_.kfree(p);
    EXPECT_TRUE(Clean());
    return after_init_ - free_frames();
  }
  // Every free frame of the buddy and the page caches, taken one at a time.
  void exhaust() {
    for (;;) {
      const PhysAddr p = pages().alloc_pages(Order{0}, __GFP_NOWARN);
      if (p.is_null()) break;
      taken_.push_back(p);
    }
    ASSERT_EQ(free_frames(), 0u);
  }
  void give_back() {
    for (PhysAddr p : taken_) pages().free_pages(p, Order{0});
    taken_.clear();
  }
  // The slab layer holds freed 4 KiB objects, the buddy nothing.
  void arm() {
    give_back();
    ASSERT_GT(fill_slab(4096, 64), 0u);
    exhaust();
  }
  // The order of `size`'s kmalloc slabs.
  unsigned slab_order(size_t size) {
    const uint64_t pages_per_slab = slab_.stats(slab_.kmalloc_cache_for(size)).pages_per_slab;
    unsigned order = 0;
    while ((uint64_t{1} << order) < pages_per_slab) ++order;
    return order;
  }
  uint64_t slabs_of(size_t size) { return slab_.stats(slab_.kmalloc_cache_for(size)).total_slabs; }

  std::vector<PhysAddr> taken_;
};

// The fixture's machine is made in SetUp: each test binds its Reclaimer.
#define RECLAIMER Reclaimer r(pages(), slab_)

TEST_F(Reclaim, PagesComeBackFromTheSlabCachesForKernelNotAtomic) {
  RECLAIMER;
  const unsigned order = slab_order(4096);
  ASSERT_GT(order, 0u) << "a 4 KiB object's slab should be a block of several frames";
  ASSERT_GE(fill_slab(4096, 64), uint64_t{1} << order) << "the slab layer should keep a slab's worth";
  exhaust();
  const uint64_t slabs = slabs_of(4096);
  // The page layer alone fails; so do the calls that may not reclaim, and
  // they leave what the slab layer holds where it is.
  EXPECT_TRUE(pages().alloc_pages(Order{order}, __GFP_NOWARN).is_null());
  EXPECT_TRUE(r.alloc_pages(Order{order}, GFP_ATOMIC | __GFP_NOWARN, nullptr).is_null());
  EXPECT_TRUE(r.alloc_pages(Order{order}, GFP_NOWAIT | __GFP_NOWARN, nullptr).is_null());
  EXPECT_TRUE(r.alloc_pages(Order{order}, __GFP_NORETRY | __GFP_NOWARN, nullptr).is_null());
  EXPECT_EQ(slabs_of(4096), slabs);
  EXPECT_EQ(free_frames(), 0u);
  // GFP_KERNEL takes the slab caches' frames back and succeeds, and says so.
  LogCapture log;
  const PhysAddr p = r.alloc_pages(Order{order}, GFP_KERNEL, nullptr);
  ASSERT_FALSE(p.is_null());
  EXPECT_NE(log.text().find("pfalloc: alloc_pages: retried after reclaiming "), std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find(": succeeded"), std::string::npos) << log.text();
  EXPECT_EQ(slabs_of(4096), 0u);
  EXPECT_TRUE(Clean());
  pages().free_pages(p, Order{order});
}

// A kmalloc of another size class, whose cache has no slab, needs a new
// slab: the slab layer takes it from what the first class's cache held.
TEST_F(Reclaim, KmallocOfAnotherClassGrowsFromReclaimedSlabs) {
  ASSERT_EQ(slabs_of(1000), 0u);
  arm();
  EXPECT_EQ(slab_.kmalloc(1000, GFP_ATOMIC | __GFP_NOWARN), nullptr);
  EXPECT_EQ(slab_.kcalloc(10, 100, GFP_NOWAIT | __GFP_NOWARN), nullptr);
  EXPECT_EQ(slab_.kmalloc(1000, __GFP_NORETRY | __GFP_NOWARN), nullptr);
  EXPECT_EQ(free_frames(), 0u);
  LogCapture log;
  void* p = slab_.kmalloc(1000, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  EXPECT_NE(log.text().find("pfalloc: kmalloc: retried after reclaiming "), std::string::npos)
      << log.text();
  EXPECT_EQ(slabs_of(1000), 1u);
  EXPECT_TRUE(Clean());
  slab_.kfree(p);
  arm();
  void* z = slab_.kcalloc(10, 100, GFP_KERNEL | __GFP_NOWARN);
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(static_cast<unsigned char*>(z)[999], 0);
  // krealloc growing into another class moves the object: a new slab.
  arm();
  EXPECT_EQ(slab_.krealloc(z, 2000, GFP_ATOMIC | __GFP_NOWARN), nullptr);
  void* q = slab_.krealloc(z, 2000, GFP_KERNEL | __GFP_NOWARN);
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(Clean());
  slab_.kfree(q);
}

// __GFP_NORETRY reaches the page layer through a slab's growth: with the
// buddy empty and only this CPU's page cache holding frames (order 0, which
// an 8 KiB object's slab of order 1 or more cannot use undrained), such a
// kmalloc fails and leaves the page cache as it was; GFP_KERNEL drains it,
// the freed buddies merge, and the slab grows.
TEST_F(Reclaim, KmallocNoRetryDoesNotDrainThePageCaches) {
  ASSERT_EQ(slabs_of(8192), 0u);
  ASSERT_GT(slab_order(8192), 0u);
  exhaust();
  // Back to this CPU's page cache: pairs of buddies, so a drain can merge.
  std::vector<PhysAddr> kept;
  for (PhysAddr p : taken_) {
    if (kept.size() < 4 && (p.value & (2 * kPageSize - 1)) == 0 &&
        std::find(taken_.begin(), taken_.end(), PhysAddr{p.value + kPageSize}) != taken_.end()) {
      kept.push_back(p);
      kept.push_back(PhysAddr{p.value + kPageSize});
    }
  }
  ASSERT_EQ(kept.size(), 4u);
  std::erase_if(taken_, [&](PhysAddr p) { return std::find(kept.begin(), kept.end(), p) != kept.end(); });
  for (PhysAddr p : kept) pages().free_pages(p, Order{0});
  const uint64_t cached = pages().counters().cached_frames;
  ASSERT_EQ(cached, kept.size()) << "the freed frames should sit in this CPU's page cache";
  EXPECT_EQ(slab_.kmalloc(8192, __GFP_NORETRY | __GFP_NOWARN), nullptr);
  EXPECT_EQ(pages().counters().cached_frames, cached) << "__GFP_NORETRY drained the page caches";
  EXPECT_EQ(slabs_of(8192), 0u);
  void* p = slab_.kmalloc(8192, GFP_KERNEL | __GFP_NOWARN);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(slabs_of(8192), 1u);
  EXPECT_TRUE(Clean());
  slab_.kfree(p);
}

// A cache of the caller's own, one object and the bulk call (all or
// nothing), and a debug cache (no per-CPU arrays: cache_alloc_slow).
TEST_F(Reclaim, CacheAllocAndBulkRetry) {
  KmemCache* c = slab_.cache_create("reclaim_test", 200, 0, 0, nullptr);
  KmemCache* d = slab_.cache_create("reclaim_debug", 200, 0, SLAB_DEBUG, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(d, nullptr);
  arm();
  void* objs[40] = {};
  EXPECT_EQ(slab_.cache_alloc(c, GFP_ATOMIC | __GFP_NOWARN), nullptr);
  EXPECT_EQ(slab_.cache_alloc(d, GFP_ATOMIC | __GFP_NOWARN), nullptr);
  EXPECT_EQ(slab_.cache_alloc_bulk(c, GFP_ATOMIC | __GFP_NOWARN, 40, objs), 0u);
  void* one = slab_.cache_alloc(c, GFP_KERNEL | __GFP_NOWARN);
  ASSERT_NE(one, nullptr);
  slab_.cache_free(c, one);
  slab_.shrink_all();
  arm();
  void* dbg = slab_.cache_alloc(d, GFP_KERNEL | __GFP_NOWARN);
  ASSERT_NE(dbg, nullptr);
  slab_.cache_free(d, dbg);
  slab_.shrink_all();
  arm();
  ASSERT_EQ(slab_.cache_alloc_bulk(c, GFP_KERNEL | __GFP_NOWARN, 40, objs), 40u);
  EXPECT_TRUE(Clean());
  slab_.cache_free_bulk(c, 40, objs);
  give_back();
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
  EXPECT_EQ(slab_.cache_destroy(d), 0u);
}

// kmem_cache_create may reclaim (it takes no flags: it may sleep, as
// Linux's): its per-CPU arrays are a block from the buddy, which is empty.
TEST_F(Reclaim, CacheCreateRetries) {
  arm();
  LogCapture log;
  KmemCache* c = slab_.cache_create("reclaim_create", 200, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_NE(log.text().find("kmem_cache_create: retried after reclaiming"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("succeeded"), std::string::npos) << log.text();
  EXPECT_TRUE(c->has_cpu_arrays());
  void* obj = slab_.cache_alloc(c, GFP_KERNEL);
  ASSERT_NE(obj, nullptr);
  EXPECT_TRUE(Clean());
  slab_.cache_free(c, obj);
  give_back();
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// A large kmalloc (a whole block from the buddy), alloc_contig and the
// bulk page call.
TEST_F(Reclaim, LargeKmallocContigAndBulkPages) {
  RECLAIMER;
  const unsigned order = slab_order(4096);
  const size_t large = kPageSize << order;  // one slab's block
  ASSERT_GT(large, kKmallocMaxSize);
  arm();
  EXPECT_EQ(slab_.kmalloc(large, GFP_ATOMIC | __GFP_NOWARN), nullptr);
  void* big = slab_.kmalloc(large, GFP_KERNEL | __GFP_NOWARN);
  ASSERT_NE(big, nullptr);
  slab_.kfree(big);

  arm();
  ContigRequest req;
  req.flags = __GFP_NOWARN;
  EXPECT_TRUE(pages().alloc_contig(3, req).is_null());
  req.flags = GFP_ATOMIC | __GFP_NOWARN;
  EXPECT_TRUE(r.alloc_contig(3, req).is_null());
  req.flags = GFP_KERNEL | __GFP_NOWARN;
  const PhysAddr run = r.alloc_contig(3, req);
  ASSERT_FALSE(run.is_null());
  pages().free_contig(run, 3);

  arm();
  PhysAddr blocks[8];
  EXPECT_EQ(pages().alloc_pages_bulk(Order{0}, __GFP_NOWARN, 8, blocks), 0u);
  EXPECT_EQ(r.alloc_pages_bulk(Order{0}, GFP_ATOMIC | __GFP_NOWARN, 8, blocks), 0u);
  ASSERT_EQ(r.alloc_pages_bulk(Order{0}, GFP_KERNEL | __GFP_NOWARN, 8, blocks), 8u);
  for (PhysAddr b : blocks) pages().free_pages(b, Order{0});
  EXPECT_TRUE(Clean());
}

// A refused call is reported once and not retried; a request no memory can
// meet is not retried either. Each call is made with the slab layer full
// and the buddy empty, so a retry would find something to reclaim.
TEST_F(Reclaim, MisuseIsReportedOnceAndNotRetried) {
  RECLAIMER;
  ErrorRecorder rec;
  LogCapture log;
  char* obj = static_cast<char*>(slab_.kmalloc(64, GFP_KERNEL));
  ASSERT_NE(obj, nullptr);
  // Each check: `reports` more reports (the last named `code`), `warnings`
  // more warnings, and nothing reclaimed.
  auto refused = [&](const char* what, auto call, size_t reports, ErrorCode code, uint64_t warnings = 0) {
    SCOPED_TRACE(what);
    arm();
    const uint64_t slabs = slabs_of(4096);
    const size_t before = rec.count();
    const uint64_t warned = warning_count();
    EXPECT_TRUE(call());
    EXPECT_EQ(rec.count(), before + reports);
    if (reports != 0) {
      EXPECT_EQ(rec.last_code(), code);
    }
    EXPECT_EQ(warning_count(), warned + warnings);
    EXPECT_EQ(slabs_of(4096), slabs) << "a refused call reclaimed";
  };
  ContigRequest bad;
  bad.align = 3 * kPageSize;
  void* objs[2] = {};
  refused("order above kMaxOrder (warned, as Linux)",
          [&] { return r.alloc_pages(Order{kOrderCount}, GFP_KERNEL, nullptr).is_null(); }, 0,
          ErrorCode::Count, 1);
  refused("bulk, order above kMaxOrder",
          [&] {
            PhysAddr blocks[2];
            return r.alloc_pages_bulk(Order{kOrderCount}, GFP_KERNEL, 2, blocks) == 0;
          },
          0,
          ErrorCode::Count, 1);
  refused("alloc_contig, align not a power of two",
          [&] { return r.alloc_contig(1, bad).is_null(); }, 1, ErrorCode::InvalidArgument);
  refused("alloc_contig, more frames than memory",
          [&] {
            ContigRequest huge;
            huge.flags = __GFP_NOWARN;
            return r.alloc_contig(uint64_t{1} << 30, huge).is_null();
          },
          0, ErrorCode::Count);
  refused("kmem_cache_alloc(NULL)", [&] { return slab_.cache_alloc(nullptr, GFP_KERNEL) == nullptr; }, 1,
          ErrorCode::InvalidArgument);
  refused("kmem_cache_alloc_bulk(NULL)",
          [&] { return slab_.cache_alloc_bulk(nullptr, GFP_KERNEL, 2, objs) == 0; }, 1,
          ErrorCode::InvalidArgument);
  refused("kmalloc_aligned, alignment not a power of two",
          [&] { return slab_.kmalloc_aligned(100, 24, GFP_KERNEL) == nullptr; }, 1,
          ErrorCode::InvalidArgument);
  refused("krealloc of an interior pointer",
          [&] { return slab_.krealloc(obj + 8, 100000, GFP_KERNEL) == nullptr; }, 1,
          ErrorCode::SlabNotObjectStart);
  // Flags outside pfalloc.h's __GFP_* (or two zone limits) on every layer.
  const ErrorCode gfp = ErrorCode::GfpInvalid;
  refused("alloc_pages, unknown gfp bit",
          [&] { return r.alloc_pages(Order{4}, GFP_KERNEL | 0x100u, nullptr).is_null(); }, 1, gfp);
  refused("alloc_pages, DMA and DMA32",
          [&] { return r.alloc_pages(Order{4}, GFP_DMA | GFP_DMA32, nullptr).is_null(); }, 1, gfp);
  refused("bulk, unknown gfp bit",
          [&] {
            PhysAddr blocks[2];
            return r.alloc_pages_bulk(Order{0}, 0x80u, 2, blocks) == 0;
          },
          1, gfp);
  refused("alloc_contig, unknown gfp bit",
          [&] {
            ContigRequest req;
            req.flags = 0x80000000u;
            return r.alloc_contig(1, req).is_null();
          },
          1, gfp);
  refused("kmalloc, unknown gfp bit", [&] { return slab_.kmalloc(100, 0x200u) == nullptr; }, 1, gfp);
  refused("kmalloc large, unknown gfp bit", [&] { return slab_.kmalloc(100000, 0x200u) == nullptr; }, 1, gfp);
  refused("kmem_cache_alloc_bulk, unknown gfp bit",
          [&] { return slab_.cache_alloc_bulk(slab_.kmalloc_cache(0), 0x200u, 2, objs) == 0; }, 1, gfp);
  refused("kmalloc(0)", [&] { return slab_.kmalloc(0, GFP_KERNEL) == nullptr; }, 0, ErrorCode::Count);
  refused("kmalloc above the largest block",
          [&] { return slab_.kmalloc(size_t{8} << 30, GFP_KERNEL) == nullptr; }, 0, ErrorCode::Count);
  refused("kcalloc overflowing", [&] { return slab_.kcalloc(~size_t{0} / 2, 4, GFP_KERNEL) == nullptr; }, 0,
          ErrorCode::Count);
  EXPECT_EQ(log.text().find("retried"), std::string::npos) << log.text();
  give_back();
  slab_.kfree(obj);
}

// While fault injection is armed, a failure is final: the count the test
// set is the count it gets, and nothing is reclaimed.
TEST_F(Reclaim, InjectedFailuresAreNotRetried) {
  RECLAIMER;
  ASSERT_GT(fill_slab(4096, 64), 0u);
  const uint64_t slabs = slabs_of(4096);
  pages().set_fail_after(1);
  EXPECT_TRUE(r.alloc_pages(Order{5}, GFP_KERNEL | __GFP_NOWARN, nullptr).is_null());
  EXPECT_EQ(pages().fail_after_calls(), 1u);
  ContigRequest req;
  req.flags = __GFP_NOWARN;
  EXPECT_TRUE(r.alloc_contig(40, req).is_null());
  EXPECT_EQ(pages().fail_after_calls(), 2u);
  PhysAddr blocks[2];
  EXPECT_EQ(r.alloc_pages_bulk(Order{4}, GFP_KERNEL | __GFP_NOWARN, 2, blocks), 0u);
  EXPECT_EQ(pages().fail_after_calls(), 3u);
  EXPECT_EQ(slab_.kmalloc(64 * KiB, GFP_KERNEL | __GFP_NOWARN), nullptr);  // a large block
  EXPECT_EQ(pages().fail_after_calls(), 4u);
  EXPECT_EQ(slab_.kmalloc(1000, GFP_KERNEL | __GFP_NOWARN), nullptr);  // a new slab
  pages().set_fail_after(0);
  slab_.set_fail_after(1);
  EXPECT_EQ(slab_.kmalloc(100, GFP_KERNEL | __GFP_NOWARN), nullptr);
  EXPECT_EQ(slab_.fail_after_calls(), 1u);
  slab_.set_fail_after(0);
  EXPECT_EQ(slabs_of(4096), slabs) << "an injected failure reclaimed";
}

// A retry that still finds nothing says so once, and the call is null; a
// second failure has nothing left to reclaim: no retry, no line.
TEST_F(Reclaim, RetryThatStillFailsSaysSo) {
  RECLAIMER;
  arm();
  LogCapture log;
  EXPECT_TRUE(r.alloc_pages(Order{kMaxOrder}, GFP_KERNEL, nullptr).is_null());
  EXPECT_NE(log.text().find("alloc_pages: retried after reclaiming"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("still no memory"), std::string::npos) << log.text();
  const size_t length = log.text().size();
  EXPECT_TRUE(r.alloc_pages(Order{kMaxOrder}, GFP_KERNEL | __GFP_NOWARN, nullptr).is_null());
  EXPECT_EQ(log.text().size(), length);
}

}  // namespace
}  // namespace pf::test
