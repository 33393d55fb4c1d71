// slab_pair_test.cpp — the per-CPU object arrays as a pair of stacks
// (slab_detail::CpuArray, cpu_cache.hpp's CpuStackPair): frees push onto
// `in`, allocations pop from `out`, and an allocation that finds `out`
// empty turns the pair. Each test checks verify() (both stacks: the halves
// of the CPU's entries, counts within one stack's capacity, every entry
// marked "in an array") after each step:
//   * a free then an allocation with `out` empty is served by a turn: the
//     latest free comes back first, no slab is grown, nothing is refilled;
//   * a burst of cpu_limit frees stays on the CPU (a full `in` with an
//     empty `out` turns rather than flushing to the depot);
//   * statistics, cpu_cached_objects and cache_shrink see both stacks;
//   * a double free is caught whichever stack holds the object: in `in`
//     while `out` holds objects, and in `out` after a turn.
#include <gtest/gtest.h>

#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

class SlabPair : public test::SlabFixture {
 protected:
  void SetUp() override {
    test::SlabFixture::SetUp();
    ASSERT_TRUE(hosted::set_this_thread_cpu(0));
    c_ = slab_.cache_create("pair", 1024, 0, 0, nullptr);
    ASSERT_NE(c_, nullptr);
  }
  void TearDown() override {
    EXPECT_TRUE(hosted::set_this_thread_cpu(0));
    if (c_ != nullptr) {
      EXPECT_EQ(slab_.cache_destroy(c_), 0u);
    }
    test::SlabFixture::TearDown();
  }
  void* alloc() {
    void* p = slab_.cache_alloc(c_, GFP_KERNEL);
    EXPECT_NE(p, nullptr);
    return p;
  }
  uint64_t cached() { return slab_.stats(c_).cpu_cached; }
  // Allocates until this CPU's pair is empty (both stacks), keeping what it
  // took in `held`: the first allocation refills `out`, the rest drain it.
  void empty_pair(std::vector<void*>& held) {
    held.push_back(alloc());
    for (uint64_t n = cached(); n != 0; --n) held.push_back(alloc());
    ASSERT_EQ(cached(), 0u);
  }
  void free_all(const std::vector<void*>& v) {
    for (void* p : v) slab_.cache_free(c_, p);
  }
  KmemCache* c_ = nullptr;
};

TEST_F(SlabPair, AnAllocationWithOutEmptyTurnsThePairAndGetsTheLatestFree) {
  std::vector<void*> held;
  empty_pair(held);
  ASSERT_GE(held.size(), 4u);
  const CacheStats before = slab_.stats(c_);
  // Frees go to `in`; `out` is empty.
  slab_.cache_free(c_, held[0]);
  slab_.cache_free(c_, held[1]);
  slab_.kfree(held[2]);
  EXPECT_EQ(cached(), 3u);
  ASSERT_TRUE(Clean());
  // The pair turns: the latest free comes back first (LIFO across the
  // turn), then the others, with no refill and no slab grown.
  EXPECT_EQ(alloc(), held[2]);
  EXPECT_EQ(cached(), 2u);
  ASSERT_TRUE(Clean());
  EXPECT_EQ(alloc(), held[1]);
  EXPECT_EQ(alloc(), held[0]);
  EXPECT_EQ(cached(), 0u);
  const CacheStats after = slab_.stats(c_);
  EXPECT_EQ(after.total_slabs, before.total_slabs);
  EXPECT_EQ(after.active_objects, before.active_objects);
  // One free, then one allocation, again and again: each served by a turn.
  for (int i = 0; i < 5; ++i) {
    slab_.cache_free(c_, held[3]);
    EXPECT_EQ(alloc(), held[3]);
    EXPECT_EQ(cached(), 0u);
  }
  ASSERT_TRUE(Clean());
  free_all(held);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabPair, ABurstOfCpuLimitFreesStaysOnTheCpu) {
  const CacheStats st = slab_.stats(c_);
  ASSERT_GT(st.depot_limit, 0u) << "the cache has a depot";
  std::vector<void*> held;
  empty_pair(held);
  while (held.size() <= st.cpu_limit) held.push_back(alloc());
  // (Refills on the way may have left objects in `out`: allocate them too.)
  for (uint64_t n = cached(); n != 0; --n) held.push_back(alloc());
  ASSERT_EQ(cached(), 0u);
  // cpu_limit frees: `in` fills (half of them), finds `out` empty and turns,
  // then fills again. Nothing leaves the CPU.
  std::vector<void*> burst(held.end() - st.cpu_limit, held.end());
  held.resize(held.size() - st.cpu_limit);
  free_all(burst);
  CacheStats now = slab_.stats(c_);
  EXPECT_EQ(now.cpu_cached, st.cpu_limit);
  EXPECT_EQ(now.depot_cached, 0u) << "a full `in` with `out` empty flushed instead of turning";
  ASSERT_TRUE(Clean());
  // One more: both stacks full, so the oldest of `in` go to the depot.
  if (!held.empty()) {
    slab_.cache_free(c_, held.back());
    held.pop_back();
    now = slab_.stats(c_);
    EXPECT_GT(now.depot_cached, 0u);
    EXPECT_EQ(now.cpu_cached + now.depot_cached, st.cpu_limit + 1);
    ASSERT_TRUE(Clean());
  }
  free_all(held);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabPair, StatsDrainsAndShrinkSeeBothStacks) {
  std::vector<void*> held;
  held.push_back(alloc());
  const uint64_t out = cached();  // the refill's rest, in `out`
  ASSERT_GT(out, 0u);
  for (int i = 0; i < 3; ++i) held.push_back(alloc());
  // Three frees into `in` while `out` holds the rest.
  free_all({held.begin() + 1, held.end()});
  held.resize(1);
  const CacheStats st = slab_.stats(c_);
  EXPECT_EQ(st.cpu_cached, out - 3 + 3);
  EXPECT_EQ(st.active_objects, 1u);
  EXPECT_EQ(slab_.cpu_cached_objects(0), st.cpu_cached + [&] {
    uint64_t others = 0;  // what the kmalloc and bootstrap caches hold on CPU 0
    for (size_t i = 0; i < kKmallocClassCount; ++i)
      if (KmemCache* k = slab_.kmalloc_cache(i)) others += slab_.stats(k).cpu_cached;
    return others;
  }());
  ASSERT_TRUE(Clean());
  // A drain of both stacks: every object back to its slab, every slab back
  // but the one the live object keeps.
  slab_.cache_shrink(c_);
  EXPECT_EQ(slab_.stats(c_).cpu_cached, 0u);
  EXPECT_EQ(slab_.stats(c_).total_slabs, 1u);
  ASSERT_TRUE(Clean());
  free_all(held);
  slab_.cache_shrink(c_);
  EXPECT_EQ(slab_.stats(c_).total_slabs, 0u);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabPair, ADoubleFreeIsCaughtWhicheverStackHoldsTheObject) {
  // In `in`, while `out` holds objects.
  void* p = alloc();
  ASSERT_GT(cached(), 0u);
  slab_.cache_free(c_, p);
  const uint64_t n = cached();
  {
    test::ErrorRecorder rec;
    slab_.cache_free(c_, p);
    slab_.kfree(p);
    slab_.kfree_sized(p, 1024);
    ASSERT_EQ(rec.count(), 3u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  }
  EXPECT_EQ(cached(), n) << "a refused free changed the arrays";
  ASSERT_TRUE(Clean());
  // In `out`, after a turn.
  std::vector<void*> held;
  empty_pair(held);
  void* a = held[0];
  void* b = held[1];
  slab_.cache_free(c_, a);
  slab_.cache_free(c_, b);
  void* got = alloc();  // turns: `out` now holds a
  EXPECT_EQ(got, b);
  {
    test::ErrorRecorder rec;
    slab_.cache_free(c_, a);
    slab_.kfree(a);
    ASSERT_EQ(rec.count(), 2u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  }
  EXPECT_EQ(cached(), 1u);
  ASSERT_TRUE(Clean());
  EXPECT_EQ(alloc(), a);
  free_all(held);
  EXPECT_TRUE(Clean());
}

}  // namespace
}  // namespace pf
