// slab_test.cpp — kmem caches: layout, alignment, object caching, per-CPU
// arrays, shrink and destroy, the O(1) lookup, slabinfo, verify(), and the
// always-on misuse checks (each by name, refused with nothing changed, and
// fatal under the default handler).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::check_pattern;
using test::fill_pattern;

// The global instance in capi.cpp relies on this.
[[maybe_unused]] constinit SlabAllocator g_constant_initialised;

class SlabCache : public test::SlabFixture {
 protected:
  // Allocates n objects from c, each filled with its own pattern.
  std::vector<void*> fill(KmemCache* c, size_t n) {
    std::vector<void*> v;
    for (size_t i = 0; i < n; ++i) {
      void* p = slab_.cache_alloc(c, GFP_KERNEL);
      EXPECT_NE(p, nullptr) << "object " << i;
      if (p == nullptr) break;
      fill_pattern(p, c->object_size(), reinterpret_cast<uintptr_t>(p));
      v.push_back(p);
    }
    return v;
  }
  void drain(KmemCache* c, std::vector<void*>& v) {
    for (void* p : v) {
      EXPECT_TRUE(check_pattern(p, c->object_size(), reinterpret_cast<uintptr_t>(p))) << p;
      slab_.cache_free(c, p);
    }
    v.clear();
  }
};

// Waste of a cache's slab: bytes of the block that hold no object, plus the
// header wherever it lives.
double waste_fraction(const KmemCache* c) {
  const double block = double(kPageSize << c->slab_order());
  return (block - double(c->objects_per_slab()) * double(c->stride()) + double(kSlabHeaderSize)) /
         block;
}

TEST_F(SlabCache, KmallocClassesWasteAtMostAnEighth) {
  for (size_t i = 0; i < kKmallocClassCount; ++i) {
    const KmemCache* c = slab_.kmalloc_cache(i);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(c->object_size(), kKmallocSizes[i]);
    EXPECT_EQ(c->stride(), kKmallocSizes[i]) << c->name();
    EXPECT_LE(waste_fraction(c), 0.125) << c->name() << " order " << c->slab_order();
    EXPECT_LE(c->slab_order(), 3u) << c->name();
  }
}

TEST_F(SlabCache, EverySizeUpTo8KiBWastesAtMostAnEighth) {
  for (size_t size = 8; size <= 8192; size += 8) {
    for (size_t align : {8, 64}) {
      KmemCache* c = slab_.cache_create("sweep", size, align, 0, nullptr);
      ASSERT_NE(c, nullptr) << size;
      EXPECT_LE(waste_fraction(c), 0.125) << "size " << size << " align " << align;
      EXPECT_GE(c->stride(), size);
      EXPECT_EQ(c->stride() % align, 0u);
      EXPECT_EQ(slab_.cache_destroy(c), 0u);
    }
  }
}

TEST_F(SlabCache, ObjectsAreAlignedAndDisjointForEveryAlignment) {
  for (size_t align = 1; align <= 4096; align *= 2) {
    for (size_t size : {size_t{1}, size_t{13}, align, align + 8, 3 * align + 1}) {
      if (size > kMaxCacheObjectSize) continue;
      KmemCache* c = slab_.cache_create("aligned", size, align, 0, nullptr);
      ASSERT_NE(c, nullptr) << "size " << size << " align " << align;
      EXPECT_GE(c->align(), std::max<size_t>(align, 8));
      // Enough objects for several slabs.
      const size_t n = std::max<size_t>(3 * c->objects_per_slab(), 8);
      auto objs = fill(c, n);
      std::vector<std::pair<uintptr_t, uintptr_t>> spans;
      for (void* p : objs) {
        const auto a = reinterpret_cast<uintptr_t>(p);
        EXPECT_EQ(a % std::max<size_t>(align, 8), 0u) << "size " << size << " align " << align;
        spans.push_back({a, a + size});
        EXPECT_EQ(slab_.cache_of(p), c);
      }
      std::sort(spans.begin(), spans.end());
      for (size_t i = 1; i < spans.size(); ++i) ASSERT_LE(spans[i - 1].second, spans[i].first);
      ASSERT_TRUE(Clean());
      drain(c, objs);  // checks every pattern
      EXPECT_EQ(slab_.cache_destroy(c), 0u);
      ASSERT_TRUE(Clean());
    }
  }
}

TEST_F(SlabCache, HwcacheAlignUsesACacheLineOrAFractionOfOne) {
  KmemCache* big = slab_.cache_create("hw-big", 40, 0, SLAB_HWCACHE_ALIGN, nullptr);
  KmemCache* small = slab_.cache_create("hw-small", 20, 0, SLAB_HWCACHE_ALIGN, nullptr);
  ASSERT_NE(big, nullptr);
  ASSERT_NE(small, nullptr);
  EXPECT_EQ(big->align(), 64u);
  EXPECT_EQ(small->align(), 32u);
  EXPECT_EQ(slab_.cache_destroy(big), 0u);
  EXPECT_EQ(slab_.cache_destroy(small), 0u);
}

TEST_F(SlabCache, ColouringSpreadsFirstObjectsAcrossCacheLines) {
  // 200-byte objects: 20 per page (the header is off the slab), 96 bytes
  // spare, so first objects at offsets 0 and 64.
  KmemCache* c = slab_.cache_create("colour", 200, 0, 0, nullptr);
  KmemCache* plain = slab_.cache_create("nocolour", 200, 0, SLAB_NO_COLOUR, nullptr);
  ASSERT_NE(c, nullptr);
  ASSERT_NE(plain, nullptr);
  const size_t per = c->objects_per_slab();
  const size_t leftover = (kPageSize << c->slab_order()) - per * c->stride() -
                          (c->off_slab() ? 0 : kSlabHeaderSize);
  const size_t colours = leftover / 64 + 1;
  ASSERT_GE(colours, 2u) << "pick a size with spare room";
  std::set<uintptr_t> offsets, plain_offsets;
  std::vector<void*> objs, plain_objs;
  for (size_t slab = 0; slab < colours * 2; ++slab) {
    for (size_t i = 0; i < per; ++i) {
      objs.push_back(slab_.cache_alloc(c, GFP_KERNEL));
      plain_objs.push_back(slab_.cache_alloc(plain, GFP_KERNEL));
    }
  }
  for (void* p : objs) offsets.insert(reinterpret_cast<uintptr_t>(p) % kPageSize % c->stride());
  for (void* p : plain_objs)
    plain_offsets.insert(reinterpret_cast<uintptr_t>(p) % kPageSize % plain->stride());
  EXPECT_EQ(offsets.size(), colours);
  EXPECT_EQ(plain_offsets.size(), 1u);
  for (void* p : objs) slab_.cache_free(c, p);
  for (void* p : plain_objs) slab_.cache_free(plain, p);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
  EXPECT_EQ(slab_.cache_destroy(plain), 0u);
}

// ---- object caching -----------------------------------------------------------

struct Widget {
  uint64_t magic;
  uint64_t generation;
  unsigned char payload[40];
};
constexpr uint64_t kWidgetMagic = 0x5769646765743031ull;
std::atomic<uint64_t> g_ctor_calls{0};
void widget_ctor(void* p) {
  auto* w = static_cast<Widget*>(p);
  w->magic = kWidgetMagic;
  w->generation = g_ctor_calls.fetch_add(1) + 1;
  std::memset(w->payload, 0x5a, sizeof w->payload);
}

TEST_F(SlabCache, ConstructorRunsOncePerObjectPerSlabLifetime) {
  g_ctor_calls = 0;
  KmemCache* c = slab_.cache_create("widget", sizeof(Widget), 0, 0, widget_ctor);
  ASSERT_NE(c, nullptr);
  EXPECT_GE(c->stride(), sizeof(Widget) + sizeof(void*)) << "link kept past the object";
  const size_t per = c->objects_per_slab();
  auto objs = std::vector<void*>();
  for (size_t i = 0; i < 3 * per; ++i) {
    auto* w = static_cast<Widget*>(slab_.cache_alloc(c, GFP_KERNEL));
    ASSERT_NE(w, nullptr);
    EXPECT_EQ(w->magic, kWidgetMagic);
    objs.push_back(w);
  }
  const CacheStats st = slab_.stats(c);
  EXPECT_EQ(g_ctor_calls.load(), st.total_slabs * per) << "one call per object of each slab";
  const uint64_t calls = g_ctor_calls.load();
  // Free and reallocate many times: objects come back constructed, the
  // constructor does not run again while the slabs live.
  for (int round = 0; round < 5; ++round) {
    for (void* p : objs) slab_.cache_free(c, p);
    for (auto& p : objs) {
      p = slab_.cache_alloc(c, GFP_KERNEL);
      ASSERT_NE(p, nullptr);
      const auto* w = static_cast<Widget*>(p);
      ASSERT_EQ(w->magic, kWidgetMagic) << "constructed state lost in round " << round;
      for (unsigned char b : w->payload) ASSERT_EQ(b, 0x5a);
    }
    ASSERT_TRUE(Clean());
  }
  EXPECT_EQ(g_ctor_calls.load(), calls);
  // Once the slabs go back to the buddy, new slabs construct again.
  for (void* p : objs) slab_.cache_free(c, p);
  EXPECT_GT(slab_.cache_shrink(c), 0u);
  EXPECT_EQ(slab_.stats(c).total_slabs, 0u);
  void* again = slab_.cache_alloc(c, GFP_KERNEL);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(g_ctor_calls.load(), calls + per);
  slab_.cache_free(c, again);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// A constructor that calls back into the slab layer (slab.hpp: it must
// not) ran with this CPU's gate held: the call waited for that lock for
// ever, or, for a debug cache growing into itself, recursed until memory
// ran out. Each such call is now refused by name (invalid-argument, null,
// nothing freed); the outer allocation still succeeds.
SlabAllocator* g_reentry_slab = nullptr;
KmemCache* g_reentry_cache = nullptr;
void* g_reentry_victim = nullptr;
std::atomic<uint64_t> g_reentry_calls{0};
void reentering_ctor(void* p) {
  ++g_reentry_calls;
  auto* slots = static_cast<void**>(p);
  slots[0] = g_reentry_slab->kmalloc(32, GFP_KERNEL);
  slots[1] = g_reentry_slab->cache_alloc(g_reentry_cache, GFP_KERNEL);
  if (g_reentry_victim != nullptr) g_reentry_slab->kfree(g_reentry_victim);
}

TEST_F(SlabCache, ConstructorCallingTheSlabLayerIsRefusedByName) {
  if (platform::cpu_id() >= kCpus) GTEST_SKIP() << "needs a CPU slot of its own";
  for (unsigned flags : {0u, unsigned{SLAB_DEBUG}}) {
    SCOPED_TRACE(flags ? "debug cache" : "plain cache");
    g_reentry_slab = &slab_;
    g_reentry_calls = 0;
    g_reentry_victim = slab_.kmalloc(48, GFP_KERNEL);
    ASSERT_NE(g_reentry_victim, nullptr);
    void* victim = g_reentry_victim;
    KmemCache* c = slab_.cache_create("reentry", 64, 0, flags, reentering_ctor);
    ASSERT_NE(c, nullptr);
    g_reentry_cache = c;
    void** o;
    {
      test::ErrorRecorder rec;
      o = static_cast<void**>(slab_.cache_alloc(c, GFP_KERNEL));
      ASSERT_NE(o, nullptr) << "the outer allocation is served";
      EXPECT_GT(g_reentry_calls.load(), 0u);
      EXPECT_EQ(rec.count(), 3 * g_reentry_calls.load()) << "every call from the constructor named";
      EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
      EXPECT_NE(rec.last_message().find("constructor"), std::string::npos) << rec.last_message();
    }
    EXPECT_EQ(o[0], nullptr);
    EXPECT_EQ(o[1], nullptr);
    // The kfree was refused: the victim is still live, and freed once here.
    EXPECT_EQ(slab_.ksize(victim), 48u);
    slab_.kfree(victim);
    g_reentry_victim = nullptr;
    // Outside a constructor the same calls work.
    void* k = slab_.kmalloc(32, GFP_KERNEL);
    ASSERT_NE(k, nullptr);
    slab_.kfree(k);
    ASSERT_TRUE(test::SlabVerified(slab_));
    slab_.cache_free(c, o);
    EXPECT_EQ(slab_.cache_destroy(c), 0u);
  }
}

// ---- statistics, shrink, destroy ---------------------------------------------------

TEST_F(SlabCache, ActiveCountsAreExactWithObjectsInPerCpuArrays) {
  KmemCache* c = slab_.cache_create("counted", 96, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  auto objs = fill(c, 1000);
  CacheStats st = slab_.stats(c);
  EXPECT_EQ(st.active_objects, 1000u);
  EXPECT_GE(st.total_objects, 1000u);
  EXPECT_EQ(st.total_objects, st.total_slabs * st.objects_per_slab);
  // Free half: they sit in this CPU's array or go back to slabs, but are
  // not active either way.
  std::vector<void*> keep(objs.begin(), objs.begin() + 500);
  std::vector<void*> drop(objs.begin() + 500, objs.end());
  drain(c, drop);
  st = slab_.stats(c);
  EXPECT_EQ(st.active_objects, 500u);
  EXPECT_GT(st.cpu_cached, 0u);
  ASSERT_TRUE(Clean());
  drain(c, keep);
  EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabCache, EmptySlabsGoBackToTheBuddyKeepingABoundedReserve) {
  KmemCache* c = slab_.cache_create("reserve", 512, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  const uint64_t before = free_frames();
  auto objs = fill(c, 50 * c->objects_per_slab());
  const uint64_t slabs = slab_.stats(c).total_slabs;
  EXPECT_GE(slabs, 50u);
  drain(c, objs);
  slab_.cache_shrink(c);  // drains per-CPU arrays too
  EXPECT_EQ(slab_.stats(c).total_slabs, 0u);
  slab_.shrink_all();  // kmem_slab keeps a reserve of its own (the headers are off-slab)
  EXPECT_EQ(free_frames(), before);
  // Without shrink: frees past the reserve return slabs as they empty.
  const size_t reserve = c->empty_reserve();
  objs = fill(c, (reserve + 50) * c->objects_per_slab());
  drain(c, objs);
  const CacheStats st = slab_.stats(c);
  const uint64_t cached_slabs = (st.cpu_cached + st.objects_per_slab - 1) / st.objects_per_slab;
  // Slabs still holding array objects (one more if they straddle), plus
  // the cache's reserve of empty ones: a burst of 1024 objects, bounded
  // (4 MiB of slabs, 1/64 of memory), so 50 slabs fewer than the burst grew.
  EXPECT_GE(reserve * c->objects_per_slab(), std::min<size_t>(1024, machine_->pages().counters().managed_frames * kPageSize / 64 / 512));
  EXPECT_LE(reserve * c->objects_per_slab() * 512, 4u * 1024u * 1024u);
  EXPECT_LE(st.total_slabs, cached_slabs + 1 + reserve) << "empty slabs beyond the reserve were kept";
  EXPECT_GT(st.total_slabs, cached_slabs + 1) << "no empty slab was kept for the next burst";
  // A burst that fits the empty slabs kept grows no slab.
  const uint64_t low = free_frames();
  objs = fill(c, (st.total_slabs - cached_slabs - 1) * c->objects_per_slab());
  EXPECT_EQ(free_frames(), low) << "a burst within the reserve went to the page allocator";
  drain(c, objs);
  // shrink (and so pf_reclaim) still gives every empty slab back.
  slab_.cache_shrink(c);
  EXPECT_EQ(slab_.stats(c).total_slabs, 0u);
  slab_.shrink_all();
  EXPECT_EQ(free_frames(), before);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabCache, ShrinkReturnsFramesReleased) {
  KmemCache* c = slab_.cache_create("shrinkme", 2000, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  auto objs = fill(c, 40);
  drain(c, objs);
  const uint64_t low = free_frames();
  const size_t released = slab_.cache_shrink(c);
  EXPECT_GT(released, 0u);
  EXPECT_EQ(free_frames(), low + released);
  EXPECT_EQ(slab_.stats(c).total_slabs, 0u);
  EXPECT_EQ(slab_.cache_shrink(c), 0u);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabCache, DestroyWithLiveObjectsReportsCountAndAddresses) {
  KmemCache* c = slab_.cache_create("leaky", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  auto objs = fill(c, 200);
  std::vector<void*> live = {objs[3], objs[77], objs[150]};
  for (void* p : objs)
    if (std::find(live.begin(), live.end(), p) == live.end()) slab_.cache_free(c, p);
  {
    test::ErrorRecorder rec;
    test::LogCapture log;
    EXPECT_EQ(slab_.cache_destroy(c), 3u);
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), ErrorCode::CacheDestroyedWithLiveObjects);
    EXPECT_NE(rec.last_message().find("3 live objects"), std::string::npos) << rec.last_message();
    EXPECT_NE(rec.last_message().find("cache=leaky"), std::string::npos);
    for (void* p : live) {
      char hex[32];
      std::snprintf(hex, sizeof hex, "0x%lx", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(p)));
      EXPECT_NE(log.text().find(hex), std::string::npos) << "address " << hex << " not logged";
    }
  }
  // Retired: still verifiable, frees still work, allocation is refused.
  EXPECT_TRUE(c->retired());
  ASSERT_TRUE(Clean());
  {
    test::ErrorRecorder rec;
    EXPECT_EQ(slab_.cache_alloc(c, GFP_KERNEL), nullptr);
    EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
  }
  for (void* p : live) {
    EXPECT_TRUE(check_pattern(p, 64, reinterpret_cast<uintptr_t>(p))) << "live object was touched";
    slab_.cache_free(c, p);
  }
  EXPECT_EQ(slab_.cache_destroy(c), 0u) << "a second destroy finishes the job";
}

TEST_F(SlabCache, KmallocCachesCannotBeDestroyed) {
  test::ErrorRecorder rec;
  KmemCache* c = slab_.kmalloc_cache(3);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
  void* p = slab_.kmalloc(kKmallocSizes[3], GFP_KERNEL);
  EXPECT_EQ(slab_.cache_of(p), c);
  slab_.kfree(p);
}

TEST_F(SlabCache, BadCreateArgumentsAreReported) {
  test::ErrorRecorder rec;
  EXPECT_EQ(slab_.cache_create("zero", 0, 0, 0, nullptr), nullptr);
  EXPECT_EQ(slab_.cache_create("huge", kMaxCacheObjectSize + 1, 0, 0, nullptr), nullptr);
  EXPECT_EQ(slab_.cache_create("align3", 16, 3, 0, nullptr), nullptr);
  EXPECT_EQ(slab_.cache_create("align8k", 16, 8192, 0, nullptr), nullptr);
  EXPECT_EQ(slab_.cache_create("flags", 16, 0, 0x100, nullptr), nullptr);
  EXPECT_EQ(slab_.cache_create(nullptr, 16, 0, 0, nullptr), nullptr);
  EXPECT_EQ(rec.count(), 6u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
}

TEST_F(SlabCache, NamesAreCopiedAndTruncated) {
  char name[64];
  std::snprintf(name, sizeof name, "%s", "a-very-long-cache-name-that-goes-on-and-on");
  KmemCache* c = slab_.cache_create(name, 32, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  name[0] = 'X';
  EXPECT_EQ(std::string(c->name()), std::string("a-very-long-cache-name-that-goe"));
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabCache, LargeObjectsUseMultiFrameSlabsAndFindTheHeadFromTailFrames) {
  for (size_t size : {3000u, 5000u, 12000u, 40000u, 65536u}) {
    KmemCache* c = slab_.cache_create("big", size, 0, 0, nullptr);
    ASSERT_NE(c, nullptr) << size;
    EXPECT_GT(c->slab_order(), 0u);
    auto objs = fill(c, 3 * c->objects_per_slab());
    for (void* p : objs) {
      EXPECT_EQ(slab_.cache_of(p), c);
      EXPECT_EQ(slab_.ksize(p), size);
      // A pointer inside the object (in a tail frame for most) is not a start.
      EXPECT_EQ(slab_.cache_of(static_cast<char*>(p) + size - 1), nullptr);
    }
    ASSERT_TRUE(Clean());
    drain(c, objs);
    EXPECT_EQ(slab_.cache_destroy(c), 0u);
  }
}

TEST_F(SlabCache, FreeFromAnotherCpuGoesToThatCpusArray) {
  KmemCache* c = slab_.cache_create("crosscpu", 128, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  hosted::set_this_thread_cpu(0);
  auto objs = fill(c, 300);
  hosted::set_this_thread_cpu(1);
  drain(c, objs);  // freed on "CPU 1"
  CacheStats st = slab_.stats(c);
  EXPECT_EQ(st.active_objects, 0u);
  ASSERT_TRUE(Clean());
  // CPU 1 allocates from what it holds.
  objs = fill(c, 50);
  EXPECT_EQ(slab_.stats(c).active_objects, 50u);
  hosted::set_this_thread_cpu(2);
  drain(c, objs);
  hosted::set_this_thread_cpu(0);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// The fast paths see a cache without arrays they may use (here SLAB_DEBUG)
// as empty arrays with no room (slab_detail::kNoCpuArrays, shared by all
// such caches): every call goes to the slabs, from every CPU, and the shared
// table is never written (verify() checks it too).
TEST_F(SlabCache, CachesTheFastPathsMayNotServeNeverTouchTheSharedEmptyArrays) {
  KmemCache* dbg = slab_.cache_create("nofast", 96, 0, SLAB_DEBUG, nullptr);
  KmemCache* plain = slab_.cache_create("fast", 96, 0, 0, nullptr);
  ASSERT_NE(dbg, nullptr);
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(dbg->has_cpu_arrays());
  for (unsigned cpu = 0; cpu < kCpus; ++cpu) {
    hosted::set_this_thread_cpu(cpu);
    auto d = fill(dbg, 40);
    auto p = fill(plain, 40);
    EXPECT_EQ(slab_.stats(dbg).active_objects, 40u);
    // Freed through both entry points: kfree finds the arrays in the slab
    // header (Slab::cpus), kmem_cache_free in the cache.
    for (size_t i = 0; i < d.size(); ++i) {
      if (i % 2) {
        slab_.kfree(d[i]);
        slab_.kfree(p[i]);
      } else {
        slab_.cache_free(dbg, d[i]);
        slab_.cache_free(plain, p[i]);
      }
    }
    EXPECT_EQ(slab_.stats(dbg).cpu_cached, 0u) << "cpu " << cpu;
    EXPECT_GT(slab_.stats(plain).cpu_cached, 0u) << "the plain cache's frees stay in per-CPU arrays";
    EXPECT_EQ(slab_.stats(dbg).active_objects, 0u);
    EXPECT_EQ(slab_.stats(plain).active_objects, 0u);
    for (const auto& line : slab_detail::kNoCpuArrays) {
      EXPECT_EQ(line.array.size(), 0u);  // both stacks of the pair
      EXPECT_EQ(line.array.out.slots, nullptr);
      EXPECT_EQ(line.array.in.slots, nullptr);
    }
    ASSERT_TRUE(Clean());
  }
  hosted::set_this_thread_cpu(0);
  EXPECT_EQ(slab_.cache_destroy(dbg), 0u);
  EXPECT_EQ(slab_.cache_destroy(plain), 0u);
}

// kmalloc's fast path trusts its size table while the fast paths are open;
// a teardown that finds live objects empties the table, so it closes them
// for good: kmalloc is refused by name, even after set_fail_after(0), and
// the leaked object can still be freed.
TEST(SlabTeardown, KmallocAfterATeardownWithLiveObjectsIsRefusedNotFollowed) {
  auto m = test::Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(m->ok());
  SlabAllocator slab;
  ASSERT_EQ(slab.init(m->pages(), {.cpu_count = 2}), PF_OK);
  void* kept = slab.kmalloc(64, GFP_KERNEL);
  ASSERT_NE(kept, nullptr);
  {
    test::ErrorRecorder rec;
    test::LogCapture log;
    EXPECT_EQ(slab.teardown(), 1u);
    EXPECT_EQ(rec.last_code(), ErrorCode::Leak);
  }
  hosted::set_this_thread_cpu(1);  // a CPU whose fast path would run
  for (int round = 0; round < 2; ++round) {
    if (round == 1) slab.set_fail_after(0);  // disarming must not reopen them either
    test::ErrorRecorder rec;
    EXPECT_EQ(slab.kmalloc(64, GFP_KERNEL), nullptr);
    EXPECT_EQ(slab.kmalloc(512, GFP_KERNEL), nullptr);
    EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument) << "round " << round;
  }
  EXPECT_TRUE(test::SlabVerified(slab));
  slab.kfree(kept);
  EXPECT_EQ(slab.teardown(), 0u);
  EXPECT_FALSE(slab.initialised());
  hosted::set_this_thread_cpu(0);
}

TEST_F(SlabCache, GfpZeroZeroesTheObject) {
  KmemCache* c = slab_.cache_create("zeroed", 200, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  auto objs = fill(c, 10);  // patterned, then freed: they come back dirty
  drain(c, objs);
  for (int i = 0; i < 10; ++i) {
    auto* p = static_cast<unsigned char*>(slab_.cache_alloc(c, __GFP_ZERO));
    ASSERT_NE(p, nullptr);
    for (int b = 0; b < 200; ++b) ASSERT_EQ(p[b], 0);
    objs.push_back(p);
    fill_pattern(p, 200, reinterpret_cast<uintptr_t>(p));
  }
  drain(c, objs);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// ---- slabinfo ------------------------------------------------------------------------

TEST_F(SlabCache, SlabinfoHasLinuxLayoutAndExactCounts) {
  KmemCache* c = slab_.cache_create("dentry", 192, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  auto objs = fill(c, 123);
  std::vector<char> buf(64 * 1024);
  TextBuffer t(buf.data(), buf.size());
  slab_.format_slabinfo(t);
  ASSERT_FALSE(t.truncated());
  const std::string text = buf.data();
  EXPECT_EQ(text.rfind("slabinfo - version: 2.1\n# name            <active_objs> <num_objs> "
                       "<objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> "
                       "<sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>\n",
                       0),
            0u)
      << text;
  const CacheStats st = slab_.stats(c);
  char row[256];
  std::snprintf(row, sizeof row,
                "%-17s %6lu %6lu %6lu %4lu %4lu : tunables %4lu %4lu %4u : slabdata %6lu %6lu %6u\n",
                "dentry", 123ul, (unsigned long)st.total_objects, (unsigned long)st.stride,
                (unsigned long)st.objects_per_slab, (unsigned long)st.pages_per_slab,
                (unsigned long)st.cpu_limit, (unsigned long)st.cpu_batch, 0u,
                (unsigned long)st.active_slabs, (unsigned long)st.total_slabs, 0u);
  EXPECT_NE(text.find(row), std::string::npos) << "missing row:\n" << row << "in:\n" << text;
  for (uint32_t size : kKmallocSizes)
    EXPECT_NE(text.find("\nkmalloc-" + std::to_string(size) + " "), std::string::npos) << size;
  EXPECT_NE(text.find("\nkmem_cache "), std::string::npos);
  EXPECT_NE(text.find("\nkmem_slab "), std::string::npos);
  drain(c, objs);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// ---- verify() ---------------------------------------------------------------------------

TEST_F(SlabCache, VerifyFindsACorruptedFreelistAndACountMismatch) {
  KmemCache* c = slab_.cache_create("victim", 64, 0, SLAB_NO_COLOUR, nullptr);
  ASSERT_NE(c, nullptr);
  auto objs = fill(c, 2 * c->objects_per_slab());
  drain(c, objs);
  slab_.cache_shrink(c);
  // One slab with 10 objects out, so its freelist runs through free objects.
  auto some = fill(c, 10);
  slab_.cache_shrink(c);  // the per-CPU array gives its extra objects back
  ASSERT_TRUE(Clean());
  // The free object right after the allocated ones holds a freelist link at
  // offset 0 (no constructor): point it outside the slab.
  auto* next_free = static_cast<uintptr_t*>(static_cast<void*>(static_cast<char*>(some.back()) + 64));
  const uintptr_t saved = *next_free;
  *next_free = 0x1234;
  {
    test::ErrorRecorder rec;
    EXPECT_FALSE(slab_.verify());
    EXPECT_EQ(rec.last_code(), ErrorCode::VerifyFailed);
    EXPECT_NE(rec.last_message().find("cache=victim"), std::string::npos) << rec.last_message();
  }
  *next_free = saved;
  ASSERT_TRUE(Clean());
  // The descriptor's in-use mirror must agree with the header.
  FrameDescriptor* d = pages().descriptor(to_pfn(pages().to_phys(some[0])));
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(frame_state(*d), FrameState::Slab);
  d->aux ^= 1;
  {
    test::ErrorRecorder rec;
    EXPECT_FALSE(slab_.verify());
    EXPECT_NE(rec.last_message().find("in-use"), std::string::npos) << rec.last_message();
  }
  d->aux ^= 1;
  ASSERT_TRUE(Clean());
  drain(c, some);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// ---- exhaustion -------------------------------------------------------------------------

class SlabExhaustion : public test::SlabFixture {
 protected:
  uint64_t ram_bytes() const override { return 4 * MiB; }
};

TEST_F(SlabExhaustion, EmptyBuddyGivesNullLosesNothingAndRecovers) {
  KmemCache* c = slab_.cache_create("filler", 256, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  const uint64_t with_cache = free_frames();
  size_t first_count = 0;
  for (int round = 0; round < 2; ++round) {
    std::vector<void*> objs;
    for (;;) {
      void* p = slab_.cache_alloc(c, __GFP_NOWARN);
      if (p == nullptr) break;
      fill_pattern(p, 256, reinterpret_cast<uintptr_t>(p));
      objs.push_back(p);
    }
    // kmalloc of every kind fails too, cleanly.
    EXPECT_EQ(slab_.kmalloc(100000, __GFP_NOWARN), nullptr);
    EXPECT_EQ(pages().counters().free_frames, 0u) << "the buddy is not empty";
    ASSERT_TRUE(Clean());
    const CacheStats st = slab_.stats(c);
    EXPECT_EQ(st.active_objects, objs.size());
    const size_t count = objs.size();
    EXPECT_GT(count, 1000u);
    for (void* p : objs) {
      ASSERT_TRUE(check_pattern(p, 256, reinterpret_cast<uintptr_t>(p)));
      slab_.cache_free(c, p);
    }
    slab_.shrink_all();
    EXPECT_EQ(free_frames(), with_cache) << "frames lost across exhaustion";
    ASSERT_TRUE(Clean());
    if (round == 0) first_count = count;
    else EXPECT_EQ(count, first_count) << "everything can be allocated again";
  }
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// ---- misuse: always-on checks ---------------------------------------------------------------

class SlabMisuse : public test::SlabFixture {
 protected:
  void SetUp() override {
    test::SlabFixture::SetUp();
    a_ = slab_.cache_create("cache-a", 48, 0, 0, nullptr);
    b_ = slab_.cache_create("cache-b", 48, 0, 0, nullptr);
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
    obj_ = slab_.cache_alloc(a_, GFP_KERNEL);
    ASSERT_NE(obj_, nullptr);
  }
  void TearDown() override {
    if (obj_ != nullptr) slab_.cache_free(a_, obj_);
    EXPECT_EQ(slab_.cache_destroy(a_), 0u);
    EXPECT_EQ(slab_.cache_destroy(b_), 0u);
    test::SlabFixture::TearDown();
  }
  struct Snapshot {
    CacheStats a, b;
    uint64_t free;
    bool operator==(const Snapshot& o) const {
      return a.active_objects == o.a.active_objects && a.cpu_cached == o.a.cpu_cached &&
             a.total_slabs == o.a.total_slabs && b.active_objects == o.b.active_objects &&
             b.cpu_cached == o.b.cpu_cached && b.total_slabs == o.b.total_slabs && free == o.free;
    }
  };
  Snapshot snap() { return {slab_.stats(a_), slab_.stats(b_), free_frames()}; }

  // Runs `misuse` under a recorder: exactly one report of `code`, naming
  // `what` in the message, and nothing changed.
  template <typename Fn>
  void expect_refused(ErrorCode code, Fn misuse) {
    const Snapshot before = snap();
    test::ErrorRecorder rec;
    misuse();
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), code) << rec.last_message();
    EXPECT_NE(rec.last_message().find(error_name(code)), std::string::npos);
    EXPECT_NE(rec.last_message().find("caller="), std::string::npos) << rec.last_message();
    EXPECT_TRUE(snap() == before) << "state changed by a refused call";
    EXPECT_TRUE(Clean());
  }

  KmemCache* a_ = nullptr;
  KmemCache* b_ = nullptr;
  void* obj_ = nullptr;
};

TEST_F(SlabMisuse, ImmediateDoubleFreeIsRefused) {
  void* p = obj_;
  obj_ = nullptr;
  slab_.cache_free(a_, p);
  expect_refused(ErrorCode::SlabDoubleFree, [&] { slab_.cache_free(a_, p); });
  expect_refused(ErrorCode::SlabDoubleFree, [&] { slab_.kfree(p); });
  // A cache without per-CPU arrays is not involved here; kmalloc objects are:
  void* k = slab_.kmalloc(100, GFP_KERNEL);
  slab_.kfree(k);
  expect_refused(ErrorCode::SlabDoubleFree, [&] { slab_.kfree(k); });
}

TEST_F(SlabMisuse, InteriorPointerIsRefused) {
  expect_refused(ErrorCode::SlabNotObjectStart,
                 [&] { slab_.cache_free(a_, static_cast<char*>(obj_) + 8); });
  expect_refused(ErrorCode::SlabNotObjectStart, [&] { slab_.kfree(static_cast<char*>(obj_) + 1); });
  void* big = slab_.kmalloc(20000, GFP_KERNEL);
  ASSERT_NE(big, nullptr);
  expect_refused(ErrorCode::SlabNotObjectStart, [&] { slab_.kfree(static_cast<char*>(big) + 4096); });
  slab_.kfree(big);
}

// Every 8-byte step of whole slabs, colour and slack included (the first
// multiple of the stride past the last object too), slabs of several
// colours, kfree and cache_free alike: refused as not an object start, with
// nothing changed, unless it is one (the fast free's test is exact).
TEST_F(SlabMisuse, EveryAddressOfASlabButItsObjectStartsIsRefused) {
  for (const size_t size : {24u, 96u, 200u, 1000u, 3000u}) {
    SCOPED_TRACE(size);
    KmemCache* c = slab_.cache_create("every-address", size, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    const CacheStats st = slab_.stats(c);
    const uint64_t block_bytes = st.pages_per_slab * kPageSize;
    std::vector<void*> objs;
    for (uint64_t i = 0; i < 3 * st.objects_per_slab; ++i) objs.push_back(slab_.cache_alloc(c, GFP_KERNEL));
    std::map<uintptr_t, uintptr_t> lowest;  // block -> its lowest object handed out
    for (void* o : objs) {
      ASSERT_NE(o, nullptr);
      const auto a = reinterpret_cast<uintptr_t>(o);
      auto [it, fresh] = lowest.emplace(a & ~(block_bytes - 1), a);
      if (!fresh && a < it->second) it->second = a;
    }
    const CacheStats before = slab_.stats(c);
    const uint64_t free_before = pages().counters().free_frames;
    test::ErrorRecorder rec;
    size_t refused = 0;
    bool colour_seen = false;
    for (const auto& [block, low] : lowest) {
      const uintptr_t base = block + (low - block) % st.stride;  // colour < stride
      colour_seen = colour_seen || base != block;
      for (uintptr_t a = block; a < block + block_bytes; a += 8) {
        if (a >= base && (a - base) % st.stride == 0 && (a - base) / st.stride < st.objects_per_slab) continue;
        if (refused % 2 == 0) slab_.kfree(reinterpret_cast<void*>(a));
        else slab_.cache_free(c, reinterpret_cast<void*>(a));
        ++refused;
        ASSERT_EQ(rec.count(), refused) << std::hex << a << " base " << base;
        ASSERT_EQ(rec.last_code(), ErrorCode::SlabNotObjectStart) << std::hex << a << " base " << base;
      }
    }
    EXPECT_GT(refused, 0u);
    if (size == 200) {
      EXPECT_TRUE(colour_seen) << "three slabs of a coloured cache";
    }
    EXPECT_EQ(slab_.stats(c).active_objects, before.active_objects);
    EXPECT_EQ(pages().counters().free_frames, free_before);
    EXPECT_TRUE(Clean());
    for (void* o : objs) slab_.cache_free(c, o);
    EXPECT_EQ(slab_.cache_destroy(c), 0u);
  }
}

TEST_F(SlabMisuse, PointerIntoAPageThatIsNotASlabIsRefused) {
  const PhysAddr block = pages().alloc_pages(Order{0}, GFP_KERNEL);
  ASSERT_FALSE(block.is_null());
  void* page = pages().to_virt<void>(block);
  expect_refused(ErrorCode::SlabNotSlabPage, [&] { slab_.kfree(page); });
  expect_refused(ErrorCode::SlabNotSlabPage, [&] { slab_.cache_free(a_, page); });
  pages().free_pages(block, Order{0});
  // A free frame, memory the allocator does not manage, a large block.
  expect_refused(ErrorCode::SlabNotSlabPage, [&] { slab_.kfree(page); });
  int on_stack = 0;
  expect_refused(ErrorCode::SlabNotSlabPage, [&] { slab_.kfree(&on_stack); });
  void* big = slab_.kmalloc(50000, GFP_KERNEL);
  expect_refused(ErrorCode::SlabNotSlabPage, [&] { slab_.cache_free(a_, big); });
  slab_.kfree(big);
  expect_refused(ErrorCode::SlabNotSlabPage, [&] { EXPECT_EQ(slab_.ksize(&on_stack), 0u); });
}

TEST_F(SlabMisuse, FreeToTheWrongCacheIsRefused) {
  expect_refused(ErrorCode::SlabWrongCache, [&] { slab_.cache_free(b_, obj_); });
  // Same object size, other cache: the report names both.
  test::ErrorRecorder rec;
  slab_.cache_free(b_, obj_);
  EXPECT_NE(rec.last_message().find("cache-a"), std::string::npos);
  EXPECT_NE(rec.last_message().find("cache=cache-b"), std::string::npos);
  void* k = slab_.kmalloc(48, GFP_KERNEL);
  expect_refused(ErrorCode::SlabWrongCache, [&] { slab_.cache_free(a_, k); });
  slab_.kfree(k);
}

TEST_F(SlabMisuse, ADelayedDoubleFreeIsRefusedAtTheSecondFree) {
  // Two frees of one object with other frees in between: the object's own
  // free-list slot says it is already in a per-CPU array (issue 11), so the
  // second free is refused at once and nothing reaches the slab twice.
  void* p = obj_;
  obj_ = nullptr;
  void* q = slab_.cache_alloc(a_, GFP_KERNEL);
  slab_.cache_free(a_, p);
  slab_.cache_free(a_, q);
  test::ErrorRecorder rec;
  slab_.cache_free(a_, p);
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree);
  slab_.cache_shrink(a_);
  EXPECT_EQ(rec.count(), 1u);
  EXPECT_TRUE(Clean());
}

using SlabMisuseDeathTest = SlabMisuse;

TEST_F(SlabMisuseDeathTest, EachAlwaysOnClassIsFatalByDefault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  void* p = obj_;
  EXPECT_DEATH(
      {
        slab_.cache_free(a_, p);
        slab_.cache_free(a_, p);
      },
      "slab-double-free.*cache=cache-a");
  EXPECT_DEATH(slab_.cache_free(a_, static_cast<char*>(p) + 4), "slab-not-object-start");
  int on_stack = 0;
  EXPECT_DEATH(slab_.kfree(&on_stack), "slab-not-a-slab-page");
  EXPECT_DEATH(slab_.cache_free(b_, p), "slab-wrong-cache.*cache=cache-b");
  EXPECT_DEATH(
      {
        KmemCache* c = slab_.cache_create("doomed", 32, 0, 0, nullptr);
        (void)slab_.cache_alloc(c, GFP_KERNEL);
        slab_.cache_destroy(c);
      },
      "cache-destroyed-with-live-objects.*cache=doomed");
}

}  // namespace
}  // namespace pf
