// bulk_test.cpp — the bulk calls: PageAllocator::alloc_pages_bulk (Linux's
// alloc_pages_bulk: as many as it can, n < count only when memory runs
// out) and SlabAllocator::cache_alloc_bulk / cache_free_bulk (all or
// nothing, as kmem_cache_alloc_bulk). Each test counts what it got, checks
// every block or object is distinct and usable, runs verify(), and leaves
// the frames as it found them; the failure cases use fault injection and a
// machine small enough to run dry.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/slab_fixture.hpp"

namespace pf {
namespace {

using test::LeaveAsFound;
using test::Machine;
using test::Verified;

// Every block: aligned, Allocated at its order, distinct, in the zone asked for.
void expect_blocks(PageAllocator& pages, const std::vector<PhysAddr>& got, size_t n, unsigned order,
                   uint64_t below = 0) {
  std::set<uint64_t> seen;
  for (size_t i = 0; i < n; ++i) {
    const PhysAddr p = got[i];
    ASSERT_FALSE(p.is_null()) << "block " << i;
    EXPECT_TRUE(block_aligned(to_pfn(p), Order{order})) << "block " << i;
    const FrameDescriptor* d = pages.descriptor(to_pfn(p));
    ASSERT_NE(d, nullptr);
    EXPECT_EQ(frame_state(*d), FrameState::Allocated);
    EXPECT_EQ(d->order, order);
    EXPECT_TRUE(seen.insert(p.value).second) << "block handed out twice: " << p.value;
    if (below != 0) {
      EXPECT_LT(p.value, below);
    }
  }
}

void free_all(PageAllocator& pages, const std::vector<PhysAddr>& got, size_t n, unsigned order) {
  for (size_t i = 0; i < n; ++i) pages.free_pages(got[i], Order{order});
}

TEST(PageBulk, FillsTheWholeRequestAtEveryCachedOrderAndAbove) {
  auto m = Machine::with_ram(64 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  for (unsigned order : {0u, 1u, 3u, 5u}) {
    SCOPED_TRACE("order " + std::to_string(order));
    const size_t count = order == 5 ? 40 : 300;  // more than a cache holds
    std::vector<PhysAddr> got(count);
    const uint64_t free_before = pages.counters().free_frames;
    ASSERT_EQ(pages.alloc_pages_bulk(Order{order}, GFP_KERNEL, count, got.data()), count);
    expect_blocks(pages, got, count, order);
    EXPECT_EQ(pages.counters().free_frames, free_before - (uint64_t{count} << order));
    EXPECT_TRUE(Verified(pages));
    free_all(pages, got, count, order);
    EXPECT_TRUE(Verified(pages));
  }
}

TEST(PageBulk, ZoneLimitAndZeroingApplyToEveryBlock) {
  auto m = Machine::with_ram(64 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  // Dirty some frames first so that zeroing has something to do.
  std::vector<PhysAddr> dirty(200);
  ASSERT_EQ(pages.alloc_pages_bulk(Order{0}, GFP_DMA, dirty.size(), dirty.data()), dirty.size());
  for (PhysAddr p : dirty) std::memset(pages.to_virt<void>(p), 0xa5, kPageSize);
  free_all(pages, dirty, dirty.size(), 0);

  std::vector<PhysAddr> got(200);
  ASSERT_EQ(pages.alloc_pages_bulk(Order{0}, GFP_DMA | __GFP_ZERO, got.size(), got.data()),
            got.size());
  expect_blocks(pages, got, got.size(), 0, kDmaLimit);
  for (PhysAddr p : got) {
    const auto* bytes = pages.to_virt<const unsigned char>(p);
    EXPECT_TRUE(std::all_of(bytes, bytes + kPageSize, [](unsigned char b) { return b == 0; }))
        << "block at " << p.value << " was not zeroed";
  }
  free_all(pages, got, got.size(), 0);
}

TEST(PageBulk, RunsDryWithAPartialCountThatIsStillTheCallers) {
  auto m = Machine::with_ram(2 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const uint64_t free_frames = pages.counters().free_frames;
  std::vector<PhysAddr> got(free_frames + 100);
  const size_t n = pages.alloc_pages_bulk(Order{0}, GFP_KERNEL | __GFP_NOWARN, got.size(), got.data());
  EXPECT_EQ(n, free_frames) << "every free frame, and no more";
  expect_blocks(pages, got, n, 0);
  EXPECT_EQ(pages.counters().free_frames, 0u);
  EXPECT_TRUE(Verified(pages));
  free_all(pages, got, n, 0);
}

TEST(PageBulk, AnInjectedFailureEndsTheBatchThere) {
  auto m = Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::vector<PhysAddr> got(50);
  pages.set_fail_after(8);  // the 8th page allocation fails
  const size_t n = pages.alloc_pages_bulk(Order{0}, GFP_KERNEL | __GFP_NOWARN, got.size(), got.data());
  pages.set_fail_after(0);
  EXPECT_EQ(n, 7u);
  expect_blocks(pages, got, n, 0);
  free_all(pages, got, n, 0);
}

class SlabBulk : public test::SlabFixture {};

TEST_F(SlabBulk, AllocatesEveryObjectAndFreesThemBack) {
  KmemCache* c = slab_.cache_create("bulk", 96, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  for (size_t count : {size_t{1}, size_t{17}, size_t{1000}}) {
    SCOPED_TRACE("count " + std::to_string(count));
    std::vector<void*> objs(count, nullptr);
    ASSERT_EQ(slab_.cache_alloc_bulk(c, GFP_KERNEL, count, objs.data()), count);
    std::set<void*> seen;
    for (void* p : objs) {
      ASSERT_NE(p, nullptr);
      EXPECT_EQ(slab_.cache_of(p), c);
      EXPECT_TRUE(seen.insert(p).second) << "object handed out twice";
      std::memset(p, 0x5a, 96);
    }
    EXPECT_EQ(slab_.stats(c).active_objects, count);
    ASSERT_TRUE(Clean());
    slab_.cache_free_bulk(c, count, objs.data());
    EXPECT_EQ(slab_.stats(c).active_objects, 0u);
    ASSERT_TRUE(Clean());
  }
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabBulk, ZeroesEveryObjectWhenAsked) {
  KmemCache* c = slab_.cache_create("bulk-zero", 200, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs(300);
  ASSERT_EQ(slab_.cache_alloc_bulk(c, GFP_KERNEL, objs.size(), objs.data()), objs.size());
  for (void* p : objs) std::memset(p, 0xee, 200);
  slab_.cache_free_bulk(c, objs.size(), objs.data());
  ASSERT_EQ(slab_.cache_alloc_bulk(c, __GFP_ZERO, objs.size(), objs.data()), objs.size());
  for (void* p : objs) {
    const auto* b = static_cast<const unsigned char*>(p);
    EXPECT_TRUE(std::all_of(b, b + 200, [](unsigned char x) { return x == 0; }));
  }
  slab_.cache_free_bulk(c, objs.size(), objs.data());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabBulk, AllOrNothingWhenAnObjectAllocationFails) {
  KmemCache* c = slab_.cache_create("bulk-fail", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  // Warm this CPU's array so that part of the batch comes from it.
  void* warm = slab_.cache_alloc(c, GFP_KERNEL);
  ASSERT_NE(warm, nullptr);
  slab_.cache_free(c, warm);
  std::vector<void*> objs(400, nullptr);
  slab_.set_fail_after(150);
  EXPECT_EQ(slab_.cache_alloc_bulk(c, GFP_KERNEL | __GFP_NOWARN, objs.size(), objs.data()), 0u);
  slab_.set_fail_after(0);
  EXPECT_EQ(slab_.stats(c).active_objects, 0u) << "a failed bulk call keeps nothing";
  ASSERT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabBulk, AllOrNothingWhenTheSlabsCannotGrow) {
  KmemCache* c = slab_.cache_create("bulk-dry", 512, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs(2000, nullptr);  // far more than the first slabs hold
  pages().set_fail_after(3);               // the third new slab cannot be had
  EXPECT_EQ(slab_.cache_alloc_bulk(c, GFP_KERNEL | __GFP_NOWARN, objs.size(), objs.data()), 0u);
  pages().set_fail_after(0);
  EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  ASSERT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// A failed cache_alloc_bulk gives back what it took. Found by ops_fuzz: with
// __GFP_ZERO it zeroed what it had taken before the failure and gave those
// objects back so, and a cache with a constructor then handed out objects
// that were not in their constructed state. Now nothing is zeroed until the
// whole batch is had.
TEST_F(SlabBulk, AFailedZeroingBatchLeavesConstructedObjectsConstructed) {
  static constexpr uint64_t kStamp = 0x636f6e7374727563ull;
  KmemCache* c = slab_.cache_create("bulk-ctor", 100, 0, 0, [](void* p) { std::memcpy(p, &kStamp, 8); });
  ASSERT_NE(c, nullptr);
  // Warm this CPU's array so that part of the batch comes from it.
  std::vector<void*> warm(8);
  for (void*& p : warm) ASSERT_NE(p = slab_.cache_alloc(c, GFP_KERNEL), nullptr);
  for (void* p : warm) slab_.cache_free(c, p);
  std::vector<void*> objs(2000, nullptr);  // far more than the first slabs hold
  pages().set_fail_after(3);               // the third new slab cannot be had
  EXPECT_EQ(slab_.cache_alloc_bulk(c, __GFP_ZERO | __GFP_NOWARN, objs.size(), objs.data()), 0u);
  pages().set_fail_after(0);
  EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  ASSERT_TRUE(Clean());
  size_t unconstructed = 0;
  for (void*& p : objs) {
    ASSERT_NE(p = slab_.cache_alloc(c, GFP_KERNEL), nullptr);
    unconstructed += std::memcmp(p, &kStamp, 8) != 0;
  }
  EXPECT_EQ(unconstructed, 0u) << "objects handed out without their constructed state";
  for (void* p : objs) slab_.cache_free(c, p);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// cache_free_bulk gives runs of one slab's objects straight back to it; each
// object still passes the free checks, so misuse inside a bulk call is named
// as with single frees and nothing is freed twice: a duplicate within the
// call, an object freed before the call (in this CPU's array, or back on its
// slab's freelist), an interior pointer.
TEST_F(SlabBulk, MisuseInsideABulkFreeIsNamedAndRefused) {
  KmemCache* c = slab_.cache_create("bulk-misuse", 128, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs(200);
  ASSERT_EQ(slab_.cache_alloc_bulk(c, GFP_KERNEL, objs.size(), objs.data()), objs.size());
  struct Case {
    const char* what;
    std::vector<void*> list;
    ErrorCode code;
  };
  // objs[0] goes to this CPU's array first; objs[1] to its slab's freelist.
  slab_.cache_free(c, objs[0]);
  slab_.cache_free_bulk(c, 1, &objs[1]);
  auto* interior = static_cast<std::byte*>(objs[3]) + 8;
  const Case cases[] = {
      {"a duplicate within the call", {objs[2], objs[4], objs[2], objs[5]}, ErrorCode::SlabDoubleFree},
      {"an object in this CPU's array", {objs[6], objs[0], objs[7]}, ErrorCode::SlabDoubleFree},
      {"an object on its slab's freelist", {objs[8], objs[1], objs[9]}, ErrorCode::SlabDoubleFree},
      {"an interior pointer", {objs[10], interior, objs[11]}, ErrorCode::SlabNotObjectStart},
  };
  for (const Case& k : cases) {
    SCOPED_TRACE(k.what);
    test::ErrorRecorder rec;
    slab_.cache_free_bulk(c, k.list.size(), k.list.data());
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), k.code);
    ASSERT_TRUE(Clean());
  }
  // What is left live: everything but objs[0..2] and objs[4..11].
  std::vector<void*> rest = {objs[3]};
  rest.insert(rest.end(), objs.begin() + 12, objs.end());
  EXPECT_EQ(slab_.stats(c).active_objects, rest.size());
  slab_.cache_free_bulk(c, rest.size(), rest.data());
  EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  ASSERT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

}  // namespace
}  // namespace pf
