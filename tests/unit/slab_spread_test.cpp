// slab_spread_test.cpp — where a free object's link slot lies
// (slab_detail::LinkAt): in caches whose link lives in the object it is
// spread over the object's lines by the object's address bits 12 and up,
// so a batch of page-sized objects does not put every slot in one cache
// set; caches with a constructor and debug caches keep it at free_offset.
// And the double-free detection the slot carries is as strong with the
// spread: immediate and delayed frees refused with the object in a per-CPU
// array, in the depot or on its slab's freelist.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using SlabSpread = test::SlabFixture;

uintptr_t slot_of(const KmemCache* c, const void* p) {
  return reinterpret_cast<uintptr_t>(p) + c->link_offset(p);
}

TEST_F(SlabSpread, MasksFollowTheLayout) {
  KmemCache* plain = slab_.cache_create("spread-4k", 4096, 0, 0, nullptr);
  KmemCache* ctor = slab_.cache_create("spread-ctor", 4096, 0, 0, [](void*) {});
  KmemCache* debug = slab_.cache_create("spread-debug", 4096, 0, SLAB_DEBUG, nullptr);
  KmemCache* odd = slab_.cache_create("spread-3k", 3072, 0, 0, nullptr);
  KmemCache* small = slab_.cache_create("spread-64", 64, 0, 0, nullptr);
  for (KmemCache* c : {plain, ctor, debug, odd, small}) ASSERT_NE(c, nullptr);
  EXPECT_EQ(plain->spread_mask(), 0xfc0u);  // 64 lines: every L1 set
  EXPECT_EQ(plain->free_offset(), 0u);
  EXPECT_EQ(ctor->spread_mask(), 0u);  // past the constructed state, fixed
  EXPECT_GE(ctor->free_offset(), 4096u);
  EXPECT_EQ(debug->spread_mask(), 0u);  // the debug layout: after the redzone
  EXPECT_EQ(debug->free_offset(), debug->redzone_end());
  EXPECT_EQ(odd->spread_mask(), 0x7c0u);  // within the stride's largest power of two
  EXPECT_EQ(small->spread_mask(), 0u);  // one line: nothing to spread over
  EXPECT_EQ(slab_.kmalloc_cache_for(4096)->spread_mask(), 0xfc0u);
  EXPECT_EQ(slab_.kmalloc_cache_for(1024)->spread_mask(), 0x3c0u);
  EXPECT_EQ(slab_.kmalloc_cache_for(256)->spread_mask(), 0xc0u);
  EXPECT_EQ(slab_.kmalloc_cache_for(64)->spread_mask(), 0u);
  EXPECT_TRUE(Clean());
  for (KmemCache* c : {plain, ctor, debug, odd, small}) EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// The slots of a batch of 4 KiB objects: each in its own object, on a line
// boundary, and on as many L1 sets (address bits 6-11) as the objects have
// distinct page numbers mod 64; a fixed slot would put them all on one.
TEST_F(SlabSpread, SlotsOfPageSizedObjectsLandOnDistinctLinesAndSets) {
  KmemCache* c = slab_.cache_create("spread-4k", 4096, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 256; ++i) {
    void* p = slab_.cache_alloc(c, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    objs.push_back(p);
  }
  std::set<uintptr_t> lines, sets, pages_mod64;
  for (void* p : objs) {
    const auto a = reinterpret_cast<uintptr_t>(p);
    const size_t off = c->link_offset(p);
    EXPECT_EQ(off, ((a >> 12) & 63) << 6) << "the documented spread";
    EXPECT_LE(off + sizeof(void*), c->stride());
    const uintptr_t slot = slot_of(c, p);
    lines.insert(slot >> 6);
    sets.insert((slot >> 6) & 63);
    pages_mod64.insert((a >> 12) & 63);
  }
  EXPECT_EQ(lines.size(), objs.size());
  EXPECT_EQ(sets.size(), pages_mod64.size());
  EXPECT_GE(sets.size(), 32u) << "256 page-sized objects span at least 32 page numbers mod 64";
  // The slots say where the objects are once freed: verify() reads them.
  for (void* p : objs) slab_.cache_free(c, p);
  EXPECT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// The loops' forms of the formula (LinkAt::visit: spread only, offset
// only) and kmalloc's pop (spread_only) put every slot exactly where
// LinkAt::slot does, whatever the layout; and a kmalloc object handed out
// again from this CPU's array has its slot cleared (a free of it is no
// double free).
TEST_F(SlabSpread, SlotFormsAgreeWithTheFormula) {
  std::vector<KmemCache*> made = {
      slab_.cache_create("form-4k", 4096, 0, 0, nullptr),
      slab_.cache_create("form-ctor", 4096, 0, 0, [](void*) {}),
      slab_.cache_create("form-debug", 1000, 0, SLAB_DEBUG, nullptr),
      slab_.cache_create("form-3k", 3072, 0, 0, nullptr),
      slab_.cache_create("form-64", 64, 0, 0, nullptr),
      slab_.cache_create("form-ctor-64", 64, 0, 0, [](void*) {}),
  };
  std::vector<const KmemCache*> all(made.begin(), made.end());
  for (size_t size = 8; size <= 8192; size *= 2) all.push_back(slab_.kmalloc_cache_for(size));
  for (const KmemCache* c : all) {
    ASSERT_NE(c, nullptr);
    const slab_detail::LinkAt link = c->link_at();
    for (uintptr_t obj = 0x10000000; obj < 0x10000000 + (uintptr_t{1} << 20); obj += 64 * 7) {
      EXPECT_EQ(link.visit([&](const auto form) { return form.slot(obj); }), link.slot(obj)) << c->name();
      if (c->spread_mask() != 0) {
        EXPECT_EQ(link.spread_only().slot(obj), link.slot(obj)) << c->name();
      } else {
        EXPECT_EQ(link.offset_only().slot(obj), link.slot(obj)) << c->name();
      }
    }
  }
  // kmalloc caches have no constructor: those the fast paths serve keep the
  // link in the object (what kmalloc's pop relies on; verify() checks it).
  for (size_t size = 8; size <= 8192; size *= 2) {
    const KmemCache* c = slab_.kmalloc_cache_for(size);
    if (c->has_cpu_arrays()) {
      EXPECT_EQ(c->free_offset(), 0u) << c->name();
    }
  }
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  test::ErrorRecorder rec;
  for (size_t size : {64, 1024, 4096}) {
    void* p = slab_.kmalloc(size, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    slab_.kfree(p);
    // The pop of this CPU's `out` (p waits on `in` until the pair turns):
    // an object that was in an array, its mark cleared.
    void* q = slab_.kmalloc(size, GFP_KERNEL);
    ASSERT_NE(q, nullptr);
    EXPECT_EQ(*reinterpret_cast<const uintptr_t*>(slot_of(slab_.kmalloc_cache_for(size), q)), 0u);
    slab_.kfree(q);
  }
  EXPECT_EQ(rec.count(), 0u) << rec.last_message();
  EXPECT_TRUE(Clean());
  for (KmemCache* c : made) EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// Two objects freed twice, with their slots off the objects' first word:
// found on top of this CPU's array, deeper in it, after a full array gave
// them on (to the depot if the cache has one, else to their slabs) and on
// their slabs' freelists after a shrink; through kmem_cache_free and kfree.
void expect_double_frees_refused(SlabAllocator& slab, KmemCache* c, bool has_depot) {
  test::ErrorRecorder rec;
  const CacheStats st = slab.stats(c);
  const size_t n = st.cpu_limit + 2 * st.cpu_batch + 1;  // more than a full array
  std::vector<void*> objs;
  for (size_t i = 0; i < n; ++i) {
    objs.push_back(slab.cache_alloc(c, GFP_KERNEL));
    ASSERT_NE(objs.back(), nullptr);
  }
  // p and q: slots off the objects' first word, and each with a keeper, an
  // object of its slab held to the end, so that their slabs stay.
  auto slab_region = [&](const void* o) { return reinterpret_cast<uintptr_t>(o) >> (12 + c->slab_order()); };
  std::vector<void*> picked, keepers;
  for (void* o : objs) {
    if (picked.size() == 2) break;
    if (c->link_offset(o) == 0 || std::find(keepers.begin(), keepers.end(), o) != keepers.end()) continue;
    for (void* k : objs)
      if (k != o && slab_region(k) == slab_region(o) &&
          std::find(picked.begin(), picked.end(), k) == picked.end() &&
          std::find(keepers.begin(), keepers.end(), k) == keepers.end()) {
        picked.push_back(o);
        keepers.push_back(k);
        break;
      }
  }
  ASSERT_EQ(picked.size(), 2u) << "objects whose slots are off their first word";
  void* p = picked[0];
  void* q = picked[1];
  auto held = [&](const void* o) { return std::find(keepers.begin(), keepers.end(), o) != keepers.end(); };
  // Immediate: p on top of this CPU's array.
  slab.cache_free(c, p);
  slab.cache_free(c, p);
  EXPECT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  // Delayed: q freed since, p deeper in the array.
  slab.cache_free(c, q);
  slab.cache_free(c, p);
  EXPECT_EQ(rec.count(), 2u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  // The rest: the array fills and gives its oldest entries, p and q, on.
  for (void* o : objs)
    if (o != p && o != q && !held(o)) slab.cache_free(c, o);
  EXPECT_EQ(rec.count(), 2u);
  if (has_depot) {
    EXPECT_GT(slab.stats(c).depot_cached, 0u);
  }
  slab.cache_free(c, p);
  slab.kfree(q);
  EXPECT_EQ(rec.count(), 4u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  slab.cache_shrink(c);  // arrays and depot drained: p and q on their slabs' freelists
  EXPECT_EQ(slab.stats(c).depot_cached, 0u);
  slab.kfree(p);
  slab.cache_free(c, q);
  EXPECT_EQ(rec.count(), 6u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  // Nothing was handed out twice.
  std::set<void*> seen;
  std::vector<void*> again;
  for (size_t i = 0; i < n; ++i) {
    void* o = slab.cache_alloc(c, GFP_KERNEL);
    ASSERT_NE(o, nullptr);
    EXPECT_TRUE(seen.insert(o).second) << "object handed out twice";
    again.push_back(o);
  }
  for (void* o : again) slab.cache_free(c, o);
  for (void* k : keepers) slab.cache_free(c, k);
  EXPECT_EQ(rec.count(), 6u) << rec.last_message();
}

TEST_F(SlabSpread, DoubleFreesOfAPageSizedSpreadCacheAreRefused) {
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  KmemCache* c = slab_.cache_create("spread-4k", 4096, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(c->spread_mask(), 0u);
  expect_double_frees_refused(slab_, c, false);
  EXPECT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabSpread, DoubleFreesOfASpreadCacheWithADepotAreRefused) {
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  KmemCache* c = slab_.cache_create("spread-1k", 1024, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(c->spread_mask(), 0u);
  ASSERT_GT(slab_.stats(c).depot_limit, 0u);
  expect_double_frees_refused(slab_, c, true);
  EXPECT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

}  // namespace
}  // namespace pf
