// kfree_sized_test.cpp — kfree_sized (slab.hpp): the fast path for every
// kmalloc class and every size within it, the slow path for objects whose
// class the size does not name (aligned objects, large blocks, objects
// krealloc shrank, kmem_cache objects, size 0), a size above ksize refused
// by name, and every misuse kfree names named alike.
#include <gtest/gtest.h>

#include <vector>

#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

class KfreeSized : public test::SlabFixture {
 protected:
  uint64_t active(size_t size) const { return slab_.stats(slab_.kmalloc_cache_for(size)).active_objects; }
};

TEST_F(KfreeSized, EveryClassAndEverySizeWithinItFreesThroughItsCache) {
  test::ErrorRecorder rec;
  for (size_t i = 0; i < kKmallocClassCount; ++i) {
    const size_t lo = i == 0 ? 1 : kKmallocSizes[i - 1] + 1, hi = kKmallocSizes[i];
    KmemCache* c = slab_.kmalloc_cache(i);
    const uint64_t before = slab_.stats(c).active_objects;
    // Allocated with one size of the class, freed with another (both ends
    // and the middle), each a kfree_sized of a live object of c.
    for (size_t asked : {lo, (lo + hi) / 2, hi}) {
      for (size_t told : {lo, (lo + hi) / 2, hi, asked}) {
        void* p = slab_.kmalloc(asked, GFP_KERNEL);
        ASSERT_NE(p, nullptr);
        ASSERT_EQ(slab_.cache_of(p), c) << asked;
        const uint64_t cached = slab_.stats(c).cpu_cached;
        slab_.kfree_sized(p, told);
        ASSERT_EQ(slab_.stats(c).active_objects, before) << asked << " freed as " << told;
        // The object went to this CPU's arrays (the pair's `in`: it comes
        // back once `out` runs dry and the pair turns).
        EXPECT_EQ(slab_.stats(c).cpu_cached, cached + 1) << asked << " freed as " << told;
        void* q = slab_.kmalloc(asked, GFP_KERNEL);
        ASSERT_EQ(slab_.cache_of(q), c) << asked;
        slab_.kfree_sized(q, asked);
      }
    }
  }
  // Every size 1..kKmallocMaxSize, many objects live at once, freed sized.
  std::vector<std::pair<void*, size_t>> live;
  for (size_t size = 1; size <= kKmallocMaxSize; size += (size < 512 ? 1 : 13)) {
    void* p = slab_.kmalloc(size, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    live.push_back({p, size});
  }
  for (auto [p, size] : live) slab_.kfree_sized(p, size);
  EXPECT_EQ(rec.count(), 0u);
  for (size_t i = 0; i < kKmallocClassCount; ++i) {
    // Nothing left live in any class (the fixture's TearDown then checks
    // that every frame is back after shrink_all).
    EXPECT_EQ(slab_.stats(slab_.kmalloc_cache(i)).active_objects, 0u) << kKmallocSizes[i];
  }
  EXPECT_TRUE(Clean());
}

TEST_F(KfreeSized, OtherClassesGoTheSlowPathAndFreeAsKfree) {
  test::ErrorRecorder rec;
  // An aligned object lives in a larger class than its size names.
  void* a = slab_.kmalloc_aligned(24, 64, GFP_KERNEL);
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(slab_.cache_of(a), slab_.kmalloc_cache_for(64));
  slab_.kfree_sized(a, 24);
  EXPECT_EQ(active(64), 0u);
  // Shrunk in place by krealloc: the new size names a smaller class.
  auto* r = static_cast<char*>(slab_.kmalloc(100, GFP_KERNEL));
  ASSERT_EQ(slab_.krealloc(r, 20, GFP_KERNEL), r);
  slab_.kfree_sized(r, 20);
  EXPECT_EQ(active(100), 0u);
  // Size 0 (no class): freed as kfree frees.
  void* z = slab_.kmalloc(48, GFP_KERNEL);
  slab_.kfree_sized(z, 0);
  EXPECT_EQ(active(48), 0u);
  // A kmem_cache object: its cache is no kmalloc class.
  KmemCache* c = slab_.cache_create("sized", 72, 0, 0, nullptr);
  void* o = slab_.cache_alloc(c, GFP_KERNEL);
  slab_.kfree_sized(o, 72);
  EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
  // Large blocks: with their size, a smaller one, and a size of a class.
  const uint64_t before = free_frames();
  for (size_t told : {size_t{20000}, size_t{8193}, size_t{100}, size_t{0}, size_t{5 * kPageSize}}) {
    void* big = slab_.kmalloc(20000, GFP_KERNEL);
    ASSERT_NE(big, nullptr);
    slab_.kfree_sized(big, told);
    EXPECT_EQ(free_frames(), before) << told;
  }
  // A block krealloc shrank in place.
  void* big = slab_.kmalloc(100000, GFP_KERNEL);
  ASSERT_EQ(slab_.krealloc(big, 100, GFP_KERNEL), big);
  slab_.kfree_sized(big, 100);
  EXPECT_EQ(free_frames(), before);
  EXPECT_EQ(rec.count(), 0u);
  EXPECT_TRUE(Clean());
}

TEST_F(KfreeSized, NullDoesNothing) {
  test::ErrorRecorder rec;
  for (size_t n : {size_t{0}, size_t{1}, size_t{64}, kKmallocMaxSize, kKmallocMaxSize + 1, ~size_t{0}})
    slab_.kfree_sized(nullptr, n);
  EXPECT_EQ(rec.count(), 0u);
}

TEST_F(KfreeSized, ASizeAboveKsizeIsReportedAndRefused) {
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  void* p = slab_.kmalloc(40, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  for (size_t told : {size_t{49}, size_t{4096}, kKmallocMaxSize + 1, ~size_t{0}}) {
    rec.clear();
    slab_.kfree_sized(p, told);
    ASSERT_EQ(rec.count(), 1u) << told;
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabWrongSize) << told;
    EXPECT_EQ(rec.last().address, reinterpret_cast<uintptr_t>(p));
    EXPECT_EQ(active(40), 1u) << "refused: nothing freed";
  }
  EXPECT_TRUE(Clean());
  // An aligned object: ksize is its class's, 64.
  void* a = slab_.kmalloc_aligned(24, 64, GFP_KERNEL);
  rec.clear();
  slab_.kfree_sized(a, 65);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabWrongSize);
  // A large block: ksize is the block's bytes.
  const uint64_t frames = free_frames();
  void* big = slab_.kmalloc(20000, GFP_KERNEL);
  rec.clear();
  slab_.kfree_sized(big, slab_.ksize(big) + 1);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabWrongSize);
  EXPECT_LT(free_frames(), frames) << "refused: the block stays allocated";
  EXPECT_TRUE(Clean());
  rec.clear();
  slab_.kfree_sized(p, 40);
  slab_.kfree_sized(a, 64);
  slab_.kfree_sized(big, slab_.ksize(big));
  EXPECT_EQ(rec.count(), 0u);
  EXPECT_EQ(free_frames(), frames);
}

// What kfree names, kfree_sized names alike, whatever size it is told.
TEST_F(KfreeSized, MisuseIsNamedAsKfreeNamesIt) {
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  auto code_of = [&](auto&& call) {
    rec.clear();
    call();
    return rec.count() == 1 ? rec.last_code() : ErrorCode::Count;
  };
  for (size_t told : {size_t{40}, size_t{8}, size_t{1000}, size_t{0}, size_t{100000}}) {
    SCOPED_TRACE(told);
    // Immediate double free: on top of this CPU's array.
    void* p = slab_.kmalloc(40, GFP_KERNEL);
    slab_.kfree_sized(p, 40);
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(p, told); }), ErrorCode::SlabDoubleFree);
    // Delayed: other frees since, and the arrays drained to the slabs.
    void* q = slab_.kmalloc(40, GFP_KERNEL);
    void* r = slab_.kmalloc(40, GFP_KERNEL);
    slab_.kfree_sized(q, 40);
    slab_.kfree_sized(r, 40);
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(q, told); }), ErrorCode::SlabDoubleFree);
    // After shrink_all r is on its slab's freelist, or its slab (empty) is
    // back in the buddy: whichever kfree names, kfree_sized names (both refuse).
    slab_.shrink_all();
    const ErrorCode by_kfree = code_of([&] { slab_.kfree(r); });
    EXPECT_TRUE(by_kfree == ErrorCode::SlabDoubleFree || by_kfree == ErrorCode::SlabNotSlabPage);
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(r, told); }), by_kfree);
    // Not an object's start.
    auto* o = static_cast<char*>(slab_.kmalloc(40, GFP_KERNEL));
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(o + 8, told); }), ErrorCode::SlabNotObjectStart);
    slab_.kfree_sized(o, 40);
    // A large block: interior, and freed twice (its frames are free).
    auto* big = static_cast<char*>(slab_.kmalloc(20000, GFP_KERNEL));
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(big + 64, told); }), ErrorCode::SlabNotObjectStart);
    slab_.kfree_sized(big, 20000);
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(big, told); }), ErrorCode::SlabNotSlabPage);
    // Not the allocator's: a stack variable.
    int local = 0;
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(&local, told); }), ErrorCode::SlabNotSlabPage);
    // A kmem_cache handle.
    KmemCache* c = slab_.cache_create("handle", 64, 0, 0, nullptr);
    EXPECT_EQ(code_of([&] { slab_.kfree_sized(c, told); }), ErrorCode::SlabCacheHandle);
    EXPECT_EQ(slab_.cache_destroy(c), 0u);
    EXPECT_TRUE(Clean());
  }
}

class KfreeSizedDebug : public KfreeSized {
 protected:
  SlabConfig slab_config() const override { return {.cpu_count = kCpus, .debug = true}; }
};

// Debug caches track the requested size and ksize is it: a size of the
// object's class is accepted (the fast path's rule), one of another class
// above the request is refused; double frees are named as kfree names them.
TEST_F(KfreeSizedDebug, TrackedSizeAndDoubleFrees) {
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  void* p = slab_.kmalloc(10, GFP_KERNEL);
  ASSERT_EQ(slab_.ksize(p), 10u);
  slab_.kfree_sized(p, 20);  // class 24, above the 10 asked for
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabWrongSize);
  EXPECT_EQ(active(10), 1u);
  rec.clear();
  slab_.kfree_sized(p, 16);  // the object's class
  EXPECT_EQ(rec.count(), 0u);
  EXPECT_EQ(active(10), 0u);
  for (size_t told : {size_t{16}, size_t{4}, size_t{200}}) {
    rec.clear();
    slab_.kfree(p);
    const ErrorCode by_kfree = rec.last_code();
    rec.clear();
    slab_.kfree_sized(p, told);
    EXPECT_EQ(rec.count(), 1u) << told;
    EXPECT_EQ(rec.last_code(), by_kfree) << told;
  }
  // Shrunk by krealloc: the tracked size follows.
  void* q = slab_.kmalloc(100, GFP_KERNEL);
  ASSERT_EQ(slab_.krealloc(q, 20, GFP_KERNEL), q);
  rec.clear();
  slab_.kfree_sized(q, 20);
  EXPECT_EQ(rec.count(), 0u);
  EXPECT_EQ(active(100), 0u);
}

// init_on_free kmalloc caches keep their link past the object's start
// (free_offset_ != 0) and are not served by the fast paths; kfree_sized's
// fast path computes a kmalloc cache's slot without free_offset_ (it only
// matters where the push can succeed), so here it must leave everything to
// the slow path: frees accepted and wiped, double frees named as kfree names them.
class KfreeSizedInitOnFree : public KfreeSized {
 protected:
  SlabConfig slab_config() const override { return {.cpu_count = kCpus, .init_on_free = true}; }
};

TEST_F(KfreeSizedInitOnFree, FreesAndDoubleFrees) {
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  for (size_t size : {size_t{8}, size_t{64}, size_t{1000}, size_t{4096}}) {
    SCOPED_TRACE(size);
    ASSERT_NE(slab_.kmalloc_cache_for(size)->free_offset(), 0u);
    std::vector<void*> objs;
    for (int i = 0; i < 40; ++i) objs.push_back(slab_.kmalloc(size, GFP_KERNEL));
    for (void* o : objs) ASSERT_NE(o, nullptr);
    for (void* o : objs) slab_.kfree_sized(o, size);
    EXPECT_EQ(rec.count(), 0u);
    EXPECT_EQ(active(size), 0u);
    rec.clear();
    slab_.kfree(objs[5]);
    const ErrorCode by_kfree = rec.last_code();
    EXPECT_EQ(by_kfree, ErrorCode::SlabDoubleFree);
    rec.clear();
    slab_.kfree_sized(objs[5], size);
    EXPECT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), by_kfree);
    rec.clear();
  }
  EXPECT_TRUE(Clean());
}

}  // namespace
}  // namespace pf
