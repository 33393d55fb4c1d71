// slab_depot_test.cpp — the cache's depot (slab.cpp, "the depot"): the
// free objects a full per-CPU array gives back and an empty one takes again,
// on any CPU, without going through the slabs. Each test checks verify()
// after every step and leaves the machine as found (the fixture's TearDown:
// shrink_all gives every frame back):
//   * a burst bigger than an array goes to the depot and comes back from
//     it, on another CPU too, without the page allocator;
//   * the depot and the empty slabs kept share the cache's reserve, and
//     cache_shrink empties both;
//   * a second free of an object sitting in the depot is named and refused;
//   * bulk frees (slabs of few objects) fill the depot, bulk allocations
//     take from it;
//   * two entries of one object (two frees that raced on two CPUs, made
//     here by a use-after-free write between them) are caught when the
//     second reaches the depot, or when the depot gives out a copy whose
//     twin was handed out: named once, never handed out twice.
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

class SlabDepot : public test::SlabFixture {
 protected:
  void SetUp() override {
    test::SlabFixture::SetUp();
    ASSERT_TRUE(hosted::set_this_thread_cpu(0));
    c_ = slab_.cache_create("depot", 1024, 0, 0, nullptr);
    ASSERT_NE(c_, nullptr);
    st_ = slab_.stats(c_);
    ASSERT_GT(st_.depot_limit, 2 * st_.cpu_batch) << "the cache has a depot";
    ASSERT_EQ(c_->free_offset(), 0u);  // the link slot is in the object, spread by its address
    ASSERT_EQ(c_->spread_mask(), 0x3c0u);
  }
  void TearDown() override {
    EXPECT_TRUE(hosted::set_this_thread_cpu(0));
    if (c_ != nullptr) {
      EXPECT_EQ(slab_.cache_destroy(c_), 0u);
    }
    test::SlabFixture::TearDown();
  }
  std::vector<void*> alloc(size_t n) {
    std::vector<void*> v;
    for (size_t i = 0; i < n; ++i) {
      void* p = slab_.cache_alloc(c_, GFP_KERNEL);
      EXPECT_NE(p, nullptr) << "object " << i;
      if (p == nullptr) break;
      v.push_back(p);
    }
    return v;
  }
  void free_all(const std::vector<void*>& v) {
    for (void* p : v) slab_.cache_free(c_, p);
  }
  KmemCache* c_ = nullptr;
  CacheStats st_;
};

TEST_F(SlabDepot, ABurstBiggerThanAnArrayComesBackFromTheDepotOnAnyCpu) {
  const size_t burst = st_.cpu_limit + st_.depot_limit / 2;
  auto objs = alloc(burst);
  ASSERT_TRUE(Clean());
  const uint64_t cached = slab_.stats(c_).cpu_cached;  // the last refill's rest
  free_all(objs);
  CacheStats st = slab_.stats(c_);
  EXPECT_GT(st.depot_cached, 0u) << "a full array gave its oldest objects to the depot";
  EXPECT_LE(st.depot_cached, st.depot_limit);
  EXPECT_LE(st.cpu_cached, st.cpu_limit);
  EXPECT_EQ(st.active_objects, 0u);
  EXPECT_EQ(st.cpu_cached + st.depot_cached, cached + burst) << "no object reached its slab";
  ASSERT_TRUE(Clean());
  // Again on another CPU: its array is empty, its refills come from the
  // depot, and no slab is grown.
  ASSERT_TRUE(hosted::set_this_thread_cpu(2));
  const uint64_t frames = free_frames();
  const uint64_t slabs = st.total_slabs;
  // (Whole refills: each takes cpu_batch objects, from the depot alone.)
  const size_t again = st.depot_cached / st.cpu_batch * st.cpu_batch;
  ASSERT_GT(again, 0u);
  objs = alloc(again);
  EXPECT_EQ(free_frames(), frames) << "a burst the depot held went to the page allocator";
  EXPECT_EQ(slab_.stats(c_).total_slabs, slabs);
  EXPECT_EQ(slab_.stats(c_).depot_cached, st.depot_cached - again);
  std::set<void*> seen;
  for (void* p : objs) EXPECT_TRUE(seen.insert(p).second) << "handed out twice: " << p;
  ASSERT_TRUE(Clean());
  free_all(objs);
  ASSERT_TRUE(Clean());
  // cache_shrink (pf_reclaim) empties the arrays and the depot and gives
  // every slab back.
  EXPECT_GT(slab_.cache_shrink(c_), 0u);
  st = slab_.stats(c_);
  EXPECT_EQ(st.depot_cached, 0u);
  EXPECT_EQ(st.cpu_cached, 0u);
  EXPECT_EQ(st.total_slabs, 0u);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabDepot, BigObjectsHaveNoDepot) {
  KmemCache* big = slab_.cache_create("nodepot", 8192, 0, 0, nullptr);  // above kDepotMaxStride
  ASSERT_NE(big, nullptr);
  EXPECT_EQ(slab_.stats(big).depot_limit, 0u);
  std::vector<void*> objs;
  for (uint64_t i = 0; i < 4 * slab_.stats(big).cpu_limit; ++i) objs.push_back(slab_.cache_alloc(big, GFP_KERNEL));
  for (void* p : objs) slab_.cache_free(big, p);
  EXPECT_EQ(slab_.stats(big).depot_cached, 0u);
  EXPECT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(big), 0u);
}

TEST_F(SlabDepot, DepotAndEmptySlabsShareTheCacheReserve) {
  // Far more than the depot and the reserve hold: the rest goes to the
  // slabs, and emptied slabs are kept only within what the depot leaves of
  // the reserve (the budget is the same whichever holds the objects).
  const size_t n = 3 * (st_.depot_limit + c_->empty_reserve() * c_->objects_per_slab());
  auto objs = alloc(n);
  ASSERT_TRUE(Clean());
  free_all(objs);
  ASSERT_TRUE(Clean());
  const CacheStats st = slab_.stats(c_);
  EXPECT_EQ(st.depot_cached, st.depot_limit) << "the depot filled first";
  const uint64_t empty = st.total_slabs - st.active_slabs;
  EXPECT_LE(empty * st.objects_per_slab + st.depot_cached, c_->empty_reserve() * st.objects_per_slab)
      << "empty slabs kept beyond what the depot left of the reserve";
  // Slabs that hold no depot or array object went back: what is left is
  // at most the slabs those objects pin, plus the empty ones kept.
  EXPECT_LE(st.active_slabs, st.cpu_cached + st.depot_cached);
  slab_.cache_shrink(c_);
  EXPECT_EQ(slab_.stats(c_).total_slabs, 0u);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabDepot, SecondFreeOfADepotObjectIsNamedAndRefused) {
  auto objs = alloc(st_.cpu_limit + st_.cpu_batch);
  free_all(objs);  // the oldest cpu_batch of them went to the depot
  ASSERT_GT(slab_.stats(c_).depot_cached, 0u);
  void* p = objs[0];  // the first freed: in the depot
  for (ErrorCode expect : {ErrorCode::SlabDoubleFree, ErrorCode::SlabDoubleFree}) {
    test::ErrorRecorder rec;
    slab_.cache_free(c_, p);
    slab_.kfree(p);
    ASSERT_EQ(rec.count(), 2u);
    EXPECT_EQ(rec.last_code(), expect);
    EXPECT_NE(rec.last_message().find("depot"), std::string::npos) << rec.last_message();
    ASSERT_TRUE(hosted::set_this_thread_cpu(1));  // and from another CPU
  }
  ASSERT_TRUE(Clean());
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  std::set<void*> seen;
  objs = alloc(objs.size() + 8);
  for (void* o : objs) EXPECT_TRUE(seen.insert(o).second) << "handed out twice: " << o;
  ASSERT_TRUE(Clean());
  free_all(objs);
}

TEST_F(SlabDepot, BulkFreeFillsTheDepotAndBulkAllocTakesFromIt) {
  ASSERT_LE(c_->objects_per_slab(), 16u) << "a cache whose bulk frees feed the depot";
  const size_t n = st_.depot_limit / 2;
  std::vector<void*> objs(n);
  ASSERT_EQ(slab_.cache_alloc_bulk(c_, GFP_KERNEL, n, objs.data()), n);
  ASSERT_TRUE(Clean());
  const uint64_t depot_before = slab_.stats(c_).depot_cached;
  slab_.cache_free_bulk(c_, n, objs.data());
  CacheStats st = slab_.stats(c_);
  EXPECT_EQ(st.depot_cached, depot_before + n) << "the bulk free's runs went to the depot";
  EXPECT_EQ(st.active_objects, 0u);
  ASSERT_TRUE(Clean());
  {
    // Freed again in one bulk call: each is in the depot, each is named.
    test::ErrorRecorder rec;
    slab_.cache_free_bulk(c_, 3, objs.data());
    EXPECT_EQ(rec.count(), 3u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  }
  ASSERT_TRUE(Clean());
  // Taken again from the depot: no page allocation, nothing twice.
  const uint64_t frames = free_frames();
  std::vector<void*> again(n);
  ASSERT_EQ(slab_.cache_alloc_bulk(c_, GFP_KERNEL, n, again.data()), n);
  EXPECT_EQ(free_frames(), frames);
  EXPECT_EQ(slab_.stats(c_).depot_cached, depot_before);
  std::set<void*> seen(again.begin(), again.end());
  EXPECT_EQ(seen.size(), n) << "an object handed out twice";
  ASSERT_TRUE(Clean());
  slab_.cache_free_bulk(c_, n, again.data());
  slab_.cache_shrink(c_);
  EXPECT_EQ(slab_.stats(c_).depot_cached, 0u);
  EXPECT_EQ(slab_.stats(c_).total_slabs, 0u);
  EXPECT_TRUE(Clean());
}

// p freed on CPU 0, then (after a write that wipes its mark, as a free
// racing on another CPU would not have seen it yet) freed again on CPU 1:
// one object in two arrays. Returns p.
void* two_entries(SlabAllocator& slab, KmemCache* c) {
  void* p = slab.cache_alloc(c, GFP_KERNEL);
  EXPECT_TRUE(hosted::set_this_thread_cpu(0));
  slab.cache_free(c, p);
  *reinterpret_cast<uintptr_t*>(static_cast<char*>(p) + c->link_offset(p)) = 0;  // use after free: the mark is gone
  EXPECT_TRUE(hosted::set_this_thread_cpu(1));
  slab.cache_free(c, p);  // not seen as a double free: the race
  return p;
}

TEST_F(SlabDepot, SecondEntryOfOneObjectIsDroppedWhenItReachesTheDepot) {
  // CPUs 0 and 1 each hold one object, so their `out` stacks keep the rest
  // of a refill: a full `in` there gives its oldest on (p among them)
  // instead of turning the pair.
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  void* keep0 = slab_.cache_alloc(c_, GFP_KERNEL);
  ASSERT_TRUE(hosted::set_this_thread_cpu(1));
  void* keep1 = slab_.cache_alloc(c_, GFP_KERNEL);
  ASSERT_TRUE(hosted::set_this_thread_cpu(3));
  auto fillers = alloc(2 * st_.cpu_limit);
  void* p;
  {
    test::ErrorRecorder rec;
    p = two_entries(slab_, c_);
    EXPECT_EQ(rec.count(), 0u);
  }
  // Each CPU's array fills and gives its oldest entries, p among them, to
  // the depot: the first copy goes in, the second is dropped and named.
  const std::vector<void*> half0(fillers.begin(), fillers.begin() + st_.cpu_limit);
  const std::vector<void*> half1(fillers.begin() + st_.cpu_limit, fillers.end());
  test::ErrorRecorder rec;
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  free_all(half0);
  EXPECT_EQ(rec.count(), 0u);
  ASSERT_TRUE(hosted::set_this_thread_cpu(1));
  free_all(half1);
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabDelayedDoubleFree);
  EXPECT_TRUE(Clean());
  // Every object once: what the arrays and the depot hold comes back
  // without p twice.
  std::set<void*> seen;
  const CacheStats st = slab_.stats(c_);
  auto objs = alloc(st.cpu_cached + st.depot_cached + 8);
  for (void* o : objs) EXPECT_TRUE(seen.insert(o).second) << "handed out twice: " << o;
  EXPECT_TRUE(seen.count(p));
  EXPECT_TRUE(Clean());
  free_all(objs);
  free_all({keep0, keep1});
}

TEST_F(SlabDepot, DepotCopyWhoseTwinWasHandedOutIsDroppedWhenTaken) {
  // CPU 0 holds an object, so its `out` keeps the rest of a refill and a
  // full `in` gives its oldest on instead of turning (see above).
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  void* keep0 = slab_.cache_alloc(c_, GFP_KERNEL);
  ASSERT_TRUE(hosted::set_this_thread_cpu(3));
  auto fillers = alloc(st_.cpu_limit);
  void* p;
  {
    test::ErrorRecorder rec;
    p = two_entries(slab_, c_);  // p on top of CPU 1's array
    EXPECT_EQ(rec.count(), 0u);
  }
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  free_all(fillers);  // CPU 0's array fills: p (its oldest) goes to the depot
  ASSERT_GT(slab_.stats(c_).depot_cached, 0u);
  ASSERT_TRUE(hosted::set_this_thread_cpu(1));
  void* q = slab_.cache_alloc(c_, GFP_KERNEL);
  ASSERT_EQ(q, p) << "CPU 1 hands out its copy";
  // CPU 2's array is empty: its refill takes the depot's objects, finds p
  // handed out (no depot mark) and drops it.
  ASSERT_TRUE(hosted::set_this_thread_cpu(2));
  std::vector<void*> objs;
  {
    test::ErrorRecorder rec;
    objs = alloc(slab_.stats(c_).depot_cached + 8);
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDelayedDoubleFree);
  }
  for (void* o : objs) EXPECT_NE(o, p) << "p handed out while CPU 1's caller holds it";
  EXPECT_TRUE(Clean());
  free_all(objs);
  slab_.cache_free(c_, q);
  slab_.cache_free(c_, keep0);
  EXPECT_TRUE(Clean());
}


// One CPU allocates a ring of objects that another frees, the two taking
// turns (the cross-thread object bench when its threads share a core): each
// turn swings wider than the depot and the base reserve hold. Slabs given
// back and grown again raise the reserve, one slab at a time, until a turn
// neither grows a slab nor gives one back; shrink starts it over.
TEST_F(SlabDepot, AReserveTooSmallForTheSwingGrowsUntilNoSlabIsGivenBack) {
  KmemCache* c = slab_.cache_create("swing", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  const CacheStats st = slab_.stats(c);
  const size_t base = c->empty_reserve();
  const size_t ring = 2 * (st.cpu_limit + st.depot_limit + base * st.objects_per_slab);
  std::vector<void*> objs(ring);
  struct Turn {
    uint64_t grown, given_back;
  };
  auto turn = [&]() -> Turn {
    EXPECT_TRUE(hosted::set_this_thread_cpu(0));
    const uint64_t before = slab_.stats(c).total_slabs;
    for (void*& p : objs) {
      p = slab_.cache_alloc(c, GFP_KERNEL);
      EXPECT_NE(p, nullptr);
    }
    const uint64_t allocated = slab_.stats(c).total_slabs;
    EXPECT_TRUE(hosted::set_this_thread_cpu(1));
    for (void* p : objs) slab_.cache_free(c, p);
    const uint64_t freed = slab_.stats(c).total_slabs;
    return {allocated - before, allocated - freed};
  };
  const Turn first = turn();
  EXPECT_GT(first.grown, 0u);
  const Turn second = turn();
  EXPECT_GT(second.given_back, 0u) << "the swing is wider than the base reserve";
  // Near the end the arrays' phase against the ring still drifts (a turn
  // is no whole number of batches), so a few more raises come late: wait
  // for a run of quiet turns.
  int quiet = 0;
  for (int i = 0; i < 400 && quiet < 32; ++i) {
    const Turn t = turn();
    quiet = t.grown == 0 && t.given_back == 0 ? quiet + 1 : 0;
    ASSERT_TRUE(Clean());  // verify(): the reserve within its bound
  }
  EXPECT_EQ(quiet, 32) << "still growing and giving back slabs each turn";
  EXPECT_GT(c->empty_reserve(), base);
  // The byte bounds hold (1/64 of memory, 4 MiB).
  EXPECT_LE(c->empty_reserve() * kPageSize, std::min<uint64_t>(4 * MiB, machine_->pages().counters().managed_frames * kPageSize / 64));
  // Shrink gives every empty slab back and the reserve starts over.
  EXPECT_TRUE(hosted::set_this_thread_cpu(0));
  slab_.cache_shrink(c);
  EXPECT_EQ(c->empty_reserve(), base);
  EXPECT_EQ(slab_.stats(c).total_slabs, 0u);
  EXPECT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

}  // namespace
}  // namespace pf
