// slab_fallback_test.cpp — slab caches under fragmentation: when no block of
// a cache's preferred order is free, a new slab takes the minimum order (one
// object; order 0 for objects up to a page), as SLUB's allocate_slab, so
// kmalloc and kmem_cache_alloc fail only when no block of that order exists.
// Memory is fragmented by taking every frame as an order-0 page and giving
// back those with an even frame number: every free frame's buddy is held,
// so no block above order 0 exists. Each step is checked with verify() of
// both layers; the fixture's TearDown checks that every frame came back.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

class SlabFallback : public test::SlabFixture {
 protected:
  uint64_t ram_bytes() const override { return 16 * MiB; }

  // Takes every free frame as an order-0 page, gives back the even ones:
  // afterwards no block of order >= 1 exists. Returns the pages kept.
  std::vector<PhysAddr> fragment() {
    std::vector<PhysAddr> all;
    take_all(all);
    std::vector<PhysAddr> kept;
    for (PhysAddr p : all) {
      if (((p.value >> kPageShift) & 1) == 0)
        pages().free_pages(p, Order{0});
      else
        kept.push_back(p);
    }
    return kept;
  }
  // Every free frame as an order-0 page.
  void take_all(std::vector<PhysAddr>& out) {
    for (;;) {
      const PhysAddr p = pages().alloc_pages(Order{0}, __GFP_NOWARN);
      if (p.is_null()) break;
      out.push_back(p);
    }
    ASSERT_EQ(free_frames(), 0u);
  }
  void unfragment(const std::vector<PhysAddr>& kept) {
    for (PhysAddr p : kept) pages().free_pages(p, Order{0});
  }
  bool block_free(Order order) {
    const PhysAddr p = pages().alloc_pages(order, __GFP_NOWARN);
    if (p.is_null()) return false;
    pages().free_pages(p, order);
    return true;
  }
};

struct Case {
  KmemCache* cache;
  size_t size;      // kmalloc size, 0: cache_alloc
  std::vector<void*> objs;
};

TEST_F(SlabFallback, LayoutsOfTheBigCaches) {
  KmemCache* k4096 = slab_.kmalloc_cache_for(4096);
  KmemCache* k2048 = slab_.kmalloc_cache_for(2048);
  ASSERT_NE(k4096, nullptr);
  ASSERT_NE(k2048, nullptr);
  EXPECT_EQ(k4096->slab_order(), 3u);
  EXPECT_EQ(k4096->min_slab_order(), 0u);
  EXPECT_EQ(k4096->min_objects_per_slab(), 1u);
  EXPECT_GE(k2048->slab_order(), 1u);
  EXPECT_EQ(k2048->min_slab_order(), 0u);
  EXPECT_EQ(k2048->min_objects_per_slab(), 2u);
  KmemCache* c = slab_.cache_create("fb3000", 3000, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  EXPECT_GT(c->slab_order(), 0u);
  EXPECT_EQ(c->min_slab_order(), 0u);
  EXPECT_EQ(c->min_objects_per_slab(), 1u);
  // A cache of small objects has nothing smaller to fall back to.
  KmemCache* small = slab_.kmalloc_cache_for(64);
  EXPECT_EQ(small->min_slab_order(), small->slab_order());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabFallback, AllocationsSucceedFromMinimumOrderSlabsAndMixWithPreferredOnes) {
  KmemCache* c3000 = slab_.cache_create("fb3000", 3000, 0, 0, nullptr);
  ASSERT_NE(c3000, nullptr);
  Case cases[] = {{slab_.kmalloc_cache_for(4096), 4096, {}},
                  {slab_.kmalloc_cache_for(2048), 2048, {}},
                  {c3000, 0, {}}};
  auto alloc = [&](Case& k) -> void* {
    void* p = k.size != 0 ? slab_.kmalloc(k.size, GFP_KERNEL) : slab_.cache_alloc(k.cache, GFP_KERNEL);
    if (p != nullptr) {
      k.objs.push_back(p);
      std::memset(p, 0x5a, k.size != 0 ? k.size : 3000);  // the whole object is usable
    }
    return p;
  };
  // Before fragmenting: one preferred-order slab per cache, partly used.
  uint64_t preferred_frames = 0;  // theirs: they go back too at the end
  for (Case& k : cases) {
    ASSERT_NE(alloc(k), nullptr);
    ASSERT_NE(alloc(k), nullptr);
    const CacheStats st = slab_.stats(k.cache);
    EXPECT_EQ(st.fallback_slabs, 0u) << k.cache->name();
    preferred_frames += st.total_slabs * st.pages_per_slab;
  }
  EXPECT_TRUE(Clean());

  const std::vector<PhysAddr> kept = fragment();
  ASSERT_FALSE(block_free(Order{1})) << "fragmentation left a block of order 1";
  ASSERT_TRUE(block_free(Order{0}));
  const uint64_t fragmented_free = free_frames();
  EXPECT_TRUE(Clean());

  // More objects than the preferred slabs hold: the rest come from
  // minimum-order slabs (without the fallback these would be nullptr).
  for (Case& k : cases) {
    const size_t want = k.cache->objects_per_slab() * 3;
    for (size_t i = 0; i < want; ++i) ASSERT_NE(alloc(k), nullptr) << k.cache->name() << " #" << i;
    const CacheStats st = slab_.stats(k.cache);
    EXPECT_GT(st.fallback_slabs, 0u) << k.cache->name();
    EXPECT_LT(st.fallback_slabs, st.total_slabs) << k.cache->name() << ": the preferred slab stays";
    EXPECT_EQ(st.min_pages_per_slab, 1u);
    // Every slab counts its own objects.
    EXPECT_EQ(st.total_objects, (st.total_slabs - st.fallback_slabs) * st.objects_per_slab +
                                    st.fallback_slabs * st.min_objects_per_slab)
        << k.cache->name();
    std::set<void*> distinct(k.objs.begin(), k.objs.end());
    EXPECT_EQ(distinct.size(), k.objs.size()) << "an object handed out twice";
    for (void* p : k.objs) EXPECT_EQ(slab_.cache_of(p), k.cache);
    if (k.size != 0) {
      for (void* p : k.objs) EXPECT_EQ(slab_.ksize(p), k.size);
    }
    EXPECT_TRUE(Clean()) << k.cache->name();
  }
  EXPECT_LT(free_frames(), fragmented_free);

  // slabinfo's num_objs counts each slab's own objects.
  {
    static char buf[32768];
    TextBuffer text(buf, sizeof buf);
    slab_.format_slabinfo(text);
    const char* row = std::strstr(text.c_str(), "\nfb3000 ");
    ASSERT_NE(row, nullptr);
    unsigned long active = 0, total = 0;
    ASSERT_EQ(std::sscanf(row + 1, "fb3000 %lu %lu", &active, &total), 2);
    EXPECT_EQ(total, slab_.stats(c3000).total_objects);
    EXPECT_EQ(active, cases[2].objs.size());
  }
  // A fallback slab of fb3000 holds one object in its frame: the bytes
  // after it are no object (the slab's own size bounds the lookup).
  {
    void* newest = cases[2].objs.back();  // from the last slab grown: a fallback one
    test::ErrorRecorder rec;
    slab_.cache_free(c3000, static_cast<char*>(newest) + 3000);
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabNotObjectStart);
  }
  EXPECT_TRUE(Clean());

  // Free every other object (both kinds of slab), verify, shrink, verify.
  for (Case& k : cases) {
    std::vector<void*> left;
    for (size_t i = 0; i < k.objs.size(); ++i) {
      if (i % 2 == 0) {
        if (k.size != 0) slab_.kfree(k.objs[i]); else slab_.cache_free(k.cache, k.objs[i]);
      } else {
        left.push_back(k.objs[i]);
      }
    }
    k.objs = left;
    EXPECT_TRUE(Clean()) << k.cache->name();
  }
  slab_.shrink_all();
  EXPECT_TRUE(Clean());
  // Objects still live in both kinds of slab are intact and freed cleanly.
  for (Case& k : cases) {
    for (void* p : k.objs) {
      EXPECT_EQ(static_cast<unsigned char*>(p)[0], 0x5a);
      if (k.size != 0) slab_.kfree(p); else slab_.cache_free(k.cache, p);
    }
    k.objs.clear();
  }
  slab_.shrink_all();
  EXPECT_TRUE(Clean());
  for (Case& k : cases) {
    const CacheStats st = slab_.stats(k.cache);
    EXPECT_EQ(st.total_slabs, 0u) << k.cache->name();
    EXPECT_EQ(st.fallback_slabs, 0u) << k.cache->name();
    EXPECT_EQ(st.total_objects, 0u) << k.cache->name();
  }
  // Every slab of the three caches went back (the header slab of kmem_slab
  // may have too, hence >=); exactly, once the fragmentation is undone.
  EXPECT_GE(free_frames(), fragmented_free + preferred_frames)
      << "a slab's frames did not come back";
  unfragment(kept);
  EXPECT_EQ(slab_.cache_destroy(c3000), 0u);
  slab_.shrink_all();
  EXPECT_EQ(free_frames(), after_init_);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabFallback, NullOnlyWhenNoFrameIsLeft) {
  const std::vector<PhysAddr> kept = fragment();
  // Take the even frames too: nothing is free at all.
  std::vector<PhysAddr> rest;
  take_all(rest);
  ASSERT_GE(rest.size(), 4u);
  // Give back two frames (one may go to a slab header): kmalloc(4096) still works.
  for (int i = 0; i < 2; ++i) {
    pages().free_pages(rest.back(), Order{0});
    rest.pop_back();
  }
  std::vector<void*> objs;
  for (;;) {
    void* p = slab_.kmalloc(4096, GFP_KERNEL | __GFP_NOWARN);
    if (p == nullptr) break;
    objs.push_back(p);
    ASSERT_LT(objs.size(), 64u);
  }
  ASSERT_GE(objs.size(), 1u) << "the last free frame was not used as a fallback slab";
  EXPECT_GT(slab_.stats(slab_.kmalloc_cache_for(4096)).fallback_slabs, 0u);
  EXPECT_TRUE(Clean());
  for (void* p : objs) slab_.kfree(p);
  slab_.shrink_all();
  for (PhysAddr p : rest) pages().free_pages(p, Order{0});
  unfragment(kept);
  EXPECT_TRUE(Clean());
}

TEST_F(SlabFallback, DoubleFreeAndInteriorPointersInFallbackSlabs) {
  const std::vector<PhysAddr> kept = fragment();
  KmemCache* k2048 = slab_.kmalloc_cache_for(2048);
  std::vector<void*> objs;
  for (size_t i = 0; i < 3 * k2048->objects_per_slab(); ++i) {
    void* p = slab_.kmalloc(2048, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    objs.push_back(p);
  }
  ASSERT_GT(slab_.stats(k2048).fallback_slabs, 0u);
  void* last = objs.back();  // from a fallback slab (the newest)
  {
    test::ErrorRecorder rec;
    // Inside an object of an order-0 fallback slab: not an object start.
    slab_.kfree(static_cast<char*>(last) + 8);
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabNotObjectStart);
    slab_.kfree(last);
    void* other = objs[objs.size() - 2];
    slab_.kfree(other);
    slab_.kfree(last);  // delayed: no longer on top of the CPU's array
    ASSERT_EQ(rec.count(), 2u);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
    objs.pop_back();
    objs.pop_back();
  }
  EXPECT_TRUE(Clean());
  for (void* p : objs) slab_.kfree(p);
  slab_.shrink_all();
  unfragment(kept);
  EXPECT_TRUE(Clean());
}

}  // namespace
}  // namespace pf
