// buddy_test.cpp — the buddy page-frame allocator: init and accounting, exact
// split and coalesce at every order, zones and fallback, __GFP_ZERO,
// exhaustion, three free orders, release_reserved, fault injection, the
// text reports, and every always-on misuse check (recorded and fatal).
// Every test leaves its machine as found (LeaveAsFound) and calls verify()
// after each step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::Block;
using test::ErrorRecorder;
using test::LeaveAsFound;
using test::Machine;
using test::PageSnapshot;
using test::Verified;

using test::usable;

// One range, all in DMA32: [16 MiB, 16 MiB + bytes).
std::unique_ptr<Machine> dma32_machine(uint64_t bytes, unsigned cpus = 4) {
  return std::make_unique<Machine>(std::initializer_list<Region>{usable(16 * MiB, bytes)},
                                   PageAllocatorConfig{.cpu_count = cpus});
}

// RAM below 3 GiB, the PCI hole, RAM from 4 GiB to 6 GiB: all three zones.
std::unique_ptr<Machine> three_zone_machine(PageAllocatorConfig config = {.cpu_count = 4}) {
  return std::make_unique<Machine>(
      std::initializer_list<Region>{usable(0, 640 * KiB), usable(1 * MiB, 3 * GiB - 1 * MiB),
                                    Region{3 * GiB, 1 * GiB, RegionType::Reserved},
                                    usable(4 * GiB, 2 * GiB)},
      config);
}

std::vector<uint64_t> zone_blocks(const PageAllocator& pages, Zone z) {
  std::vector<uint64_t> v(kOrderCount);
  for (unsigned k = 0; k < kOrderCount; ++k) v[k] = pages.free_blocks(z, Order{k});
  return v;
}

// The split rule as a model: each block taken comes from the smallest order
// >= k that has one, and every split leaves one free block per order between.
std::vector<uint64_t> after_taking(std::vector<uint64_t> blocks, unsigned k, unsigned n) {
  for (unsigned i = 0; i < n; ++i) {
    unsigned j = k;
    while (j < kOrderCount && blocks[j] == 0) ++j;
    if (j == kOrderCount) break;
    --blocks[j];
    for (unsigned s = k; s < j; ++s) ++blocks[s];
  }
  return blocks;
}

// Two allocated blocks of `order` that are each other's buddy. Blocks taken
// while looking for the pair are given back.
std::pair<PhysAddr, PhysAddr> buddy_pair(PageAllocator& pages, unsigned order) {
  std::vector<PhysAddr> got;
  std::pair<PhysAddr, PhysAddr> pair{};
  for (int i = 0; i < 8 && pair.first.is_null(); ++i) {
    const PhysAddr p = pages.alloc_pages(Order{order}, GFP_KERNEL);
    if (p.is_null()) break;
    for (size_t j = 0; j < got.size(); ++j)
      if ((got[j].value ^ p.value) == (kPageSize << order)) {
        pair = {got[j], p};
        got.erase(got.begin() + static_cast<long>(j));
        break;
      }
    if (pair.first.is_null()) got.push_back(p);
  }
  for (PhysAddr p : got) pages.free_pages(p, Order{order});
  EXPECT_FALSE(pair.first.is_null()) << "no buddy pair of order " << order;
  return pair;
}

const FrameDescriptor& desc(const PageAllocator& pages, PhysAddr p) {
  const FrameDescriptor* d = pages.descriptor(to_pfn(p));
  EXPECT_NE(d, nullptr);
  static FrameDescriptor none{};
  return d != nullptr ? *d : none;
}

// ---- init and accounting ---------------------------------------------------

TEST(Buddy, InitAccountsForEveryFrame) {
  auto m = Machine::with_ram(64 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  ASSERT_TRUE(Verified(pages));
  const PageCounters c = pages.counters();
  EXPECT_EQ(c.managed_frames + c.reserved_frames, (64 * MiB) >> kPageShift);
  EXPECT_EQ(c.free_frames, c.managed_frames);
  EXPECT_EQ(c.cached_frames, 0u);
  EXPECT_EQ(c.reserved_frames << kPageShift, pages.bootmem_bytes());

  // Two ranges, cut at 16 MiB; descriptors (16 bytes a frame) live in DMA32.
  ASSERT_EQ(pages.range_count(), 2u);
  uint64_t descriptor_bytes = 0;
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const auto r = pages.range_info(i);
    const uint64_t frames = (r.end - r.base) >> kPageShift;
    EXPECT_EQ(r.descriptor_bytes, (frames * 16 + kPageSize - 1) / kPageSize * kPageSize);
    EXPECT_GE(r.descriptors.value, kDmaLimit) << "DMA memory is used last";
    descriptor_bytes += r.descriptor_bytes;
  }
  EXPECT_EQ(pages.range_info(0).base.value, 1 * MiB);
  EXPECT_EQ(pages.range_info(0).end.value, 16 * MiB);
  EXPECT_EQ(pages.range_info(0).zone, Zone::Dma);
  EXPECT_EQ(pages.range_info(1).zone, Zone::Dma32);
  EXPECT_EQ(pages.descriptor_bytes(), descriptor_bytes);
  EXPECT_EQ(pages.zone_counters(Zone::Dma).reserved_frames, 0u);
  EXPECT_EQ(PageAllocator::descriptor_bytes_per_frame(), 16u);

  EXPECT_NE(pages.descriptor(Pfn{256}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{0}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{255}), nullptr);
  EXPECT_EQ(pages.descriptor(to_pfn(PhysAddr{65 * MiB})), nullptr);
}

TEST(Buddy, InitFreesEachSpanAsMaximalAlignedBlocks) {
  auto m = dma32_machine(32 * MiB + 20 * KiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  // Bootmem takes the lowest frames of the only range; the rest is one span.
  const uint64_t first_free = (16 * MiB >> kPageShift) + pages.counters().reserved_frames;
  const uint64_t end = (48 * MiB + 20 * KiB) >> kPageShift;
  std::vector<uint64_t> expected(kOrderCount);
  for (uint64_t p = first_free; p < end;) {
    unsigned k = 0;
    while (k < kMaxOrder && (p & ((uint64_t{2} << k) - 1)) == 0 && p + (uint64_t{2} << k) <= end) ++k;
    ++expected[k];
    p += uint64_t{1} << k;
  }
  EXPECT_EQ(zone_blocks(pages, Zone::Dma32), expected);
  EXPECT_EQ(pages.largest_free_order(), static_cast<int>(kMaxOrder));
  EXPECT_TRUE(Verified(pages));
}

// init clears each range's descriptors piece by piece, just before it marks
// or frees that piece's frames (populate, page_alloc.cpp). A fresh window
// reads zero wherever a clear was missed, so here init runs a second time
// over descriptor arrays full of garbage, on a map whose ranges span several
// pieces and have unaligned edges, reclaimable classes (adjacent to usable
// memory and not), an extra reserved range and holes: it must leave every
// descriptor byte as the init on fresh memory did.
TEST(Buddy, InitRewritesEveryDescriptorWhateverItsMemoryHeld) {
  using namespace test::region_letters;
  MemoryMap map;
  for (const Region& r : {Region{0, 0x9f000, U}, Region{0x9f000, 0x1000, R},
                          Region{1 * MiB, 200 * MiB + 20 * KiB, U},
                          Region{201 * MiB + 20 * KiB, 300 * KiB, A}, Region{202 * MiB, 1 * MiB, N},
                          Region{512 * MiB + 12 * KiB, 188 * MiB - 12 * KiB, U},
                          Region{700 * MiB, 200 * MiB, L}, Region{960 * MiB, 36 * KiB, A},
                          Region{4 * GiB, 300 * MiB + 4 * KiB, U}})
    ASSERT_EQ(map.add(r), MapStatus::Ok);
  ASSERT_EQ(map.reserve(4 * GiB + 64 * MiB + 8 * KiB, 3 * MiB), MapStatus::Ok);
  ASSERT_TRUE(map.normalise());
  hosted::HostedMemory mem;
  ASSERT_TRUE(mem.reserve(PhysAddr{0}, PhysAddr{4 * GiB + 301 * MiB}));
  const PageAllocatorConfig config{.direct_map_offset = mem.direct_map_offset(), .cpu_count = 2};

  struct Array {
    std::byte* at;
    std::vector<std::byte> fresh;  // as the init on fresh memory left it
  };
  std::vector<Array> arrays;
  PageCounters fresh_counters;
  {
    PageAllocator pages;
    ASSERT_EQ(pages.init(map, config), PF_OK);
    ASSERT_TRUE(Verified(pages));
    ASSERT_GE(pages.range_count(), 5u);
    for (size_t i = 0; i < pages.range_count(); ++i) {
      const auto r = pages.range_info(i);
      std::byte* at = mem.to_virt<std::byte>(r.descriptors);
      const size_t bytes = (r.end - r.base) / kPageSize * sizeof(FrameDescriptor);
      arrays.push_back({at, std::vector<std::byte>(at, at + bytes)});
    }
    fresh_counters = pages.counters();
    EXPECT_GT(fresh_counters.reserved_frames, 0u);
    // One span holds every array, in range order (populate clears it with one memset).
    for (size_t i = 1; i < arrays.size(); ++i)
      EXPECT_EQ(arrays[i].at, arrays[i - 1].at + (arrays[i - 1].fresh.size() + kPageSize - 1) / kPageSize * kPageSize)
          << "range " << i;
  }
  for (const Array& a : arrays) std::memset(a.at, 0xa5, a.fresh.size());

  PageAllocator pages;
  ASSERT_EQ(pages.init(map, config), PF_OK);
  EXPECT_TRUE(Verified(pages));
  EXPECT_EQ(pages.counters(), fresh_counters);
  ASSERT_EQ(pages.range_count(), arrays.size());
  for (size_t i = 0; i < arrays.size(); ++i) {
    const Array& a = arrays[i];
    ASSERT_EQ(mem.to_virt<std::byte>(pages.range_info(i).descriptors), a.at) << "range " << i;
    const auto differs = std::mismatch(a.fresh.begin(), a.fresh.end(), a.at).first;
    EXPECT_EQ(differs, a.fresh.end()) << "range " << i << ": descriptor "
                                      << (differs - a.fresh.begin()) / sizeof(FrameDescriptor)
                                      << " differs from the fresh init's";
  }
}

TEST(Buddy, InitRejectsBadConfigurationsAndMaps) {
  hosted::HostedMemory mem;
  ASSERT_TRUE(mem.reserve(PhysAddr{0}, PhysAddr{64 * MiB}));
  {
    MemoryMap map;
    map.add(usable(1 * MiB, 32 * MiB));
    PageAllocator pages;
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = 1}),
              PF_ERR_BAD_CONFIG) << "a map that was not normalised";
    ASSERT_TRUE(map.normalise());
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = 0}),
              PF_ERR_BAD_CONFIG);
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = kMaxCpus + 1}),
              PF_ERR_BAD_CONFIG);
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset() + 8, .cpu_count = 1}),
              PF_ERR_BAD_CONFIG) << "an offset that is not page aligned (crashed in init)";
    EXPECT_EQ(pages.init(map, {.direct_map_offset = uintptr_t{0} - 16 * MiB, .cpu_count = 1}),
              PF_ERR_BAD_CONFIG) << "managed memory's virtual addresses wrap past 2^64 (crashed in init)";
    EXPECT_EQ(pages.init(map, {.direct_map_offset = uintptr_t{0} - 1 * MiB, .cpu_count = 1}),
              PF_ERR_BAD_CONFIG) << "the first managed frame at virtual 0";
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = 1,
                               .bootmem_limit = 1 * MiB}),
              PF_ERR_NO_ROOM_FOR_DESCRIPTORS);
    EXPECT_FALSE(pages.initialised());
    EXPECT_TRUE(pages.alloc_pages(Order{0}, __GFP_NOWARN).is_null());
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = 1}), PF_OK);
    EXPECT_TRUE(pages.initialised());
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = 1}),
              PF_ERR_BAD_CONFIG) << "init twice";
    EXPECT_TRUE(Verified(pages));
  }
  {
    MemoryMap map;
    map.add(Region{1 * MiB, 32 * MiB, RegionType::Reserved});
    ASSERT_TRUE(map.normalise());
    PageAllocator pages;
    EXPECT_EQ(pages.init(map, {.direct_map_offset = mem.direct_map_offset(), .cpu_count = 1}),
              PF_ERR_NO_USABLE_MEMORY);
  }
}

TEST(Buddy, BootmemLimitKeepsMetadataBelowIt) {
  auto m = three_zone_machine({.cpu_count = 2, .bootmem_limit = 4 * GiB});
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  ASSERT_EQ(pages.range_count(), 3u);
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const auto r = pages.range_info(i);
    EXPECT_LT(r.descriptors.value + r.descriptor_bytes, 4 * GiB + 1) << "range " << i;
    EXPECT_GE(r.descriptors.value, kDmaLimit) << "range " << i;
  }
  EXPECT_EQ(pages.zone_counters(Zone::Normal).reserved_frames, 0u);
  EXPECT_TRUE(Verified(pages));

  // Without the limit, the Normal range holds its own descriptors.
  auto free_placement = three_zone_machine();
  ASSERT_TRUE(free_placement->ok());
  const auto normal = free_placement->pages().range_info(2);
  EXPECT_EQ(normal.zone, Zone::Normal);
  EXPECT_GE(normal.descriptors, normal.base);
  EXPECT_LT(normal.descriptors, normal.end);
}

// When no usable entry holds every descriptor array at once, each goes in
// its own range (its usable part), as bootmem prefers.
TEST(Buddy, DescriptorsGoRangeByRangeWhenNoSpanHoldsThemAll) {
  using namespace test::region_letters;
  // Two ranges of 258 MiB, each mostly loader memory (never used by
  // bootmem): arrays of ~1 MiB each, usable parts of 1.5 MiB.
  auto m = std::make_unique<Machine>(std::initializer_list<Region>{
      {16 * MiB, 1 * MiB + 512 * KiB, U}, {17 * MiB + 512 * KiB, 256 * MiB + 512 * KiB, L},
      {4 * GiB, 1 * MiB + 512 * KiB, U}, {4 * GiB + 1 * MiB + 512 * KiB, 256 * MiB + 512 * KiB, L}});
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  ASSERT_EQ(pages.range_count(), 2u);
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const auto r = pages.range_info(i);
    EXPECT_GT(r.descriptor_bytes, 1 * MiB) << "range " << i;
    EXPECT_GE(r.descriptors, r.base) << "range " << i;
    EXPECT_LE(r.descriptors + r.descriptor_bytes, r.base + 1 * MiB + 512 * KiB) << "range " << i;
  }
  EXPECT_EQ(pages.reserved_frames(kReservedBootloaderReclaimable), 2 * ((256 * MiB + 512 * KiB) >> kPageShift));
  EXPECT_TRUE(Verified(pages));
}

// ---- split and coalesce ------------------------------------------------------

TEST(Buddy, SplitAndCoalesceExactlyAtEveryOrder) {
  auto m = dma32_machine(32 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    SCOPED_TRACE("order " + std::to_string(k));
    pages.drain_cpu_caches();
    const std::vector<uint64_t> before = zone_blocks(pages, Zone::Dma32);
    const uint64_t free_before = pages.counters().free_frames;

    const PhysAddr a = pages.alloc_pages(Order{k}, GFP_KERNEL);
    ASSERT_FALSE(a.is_null());
    EXPECT_TRUE(block_aligned(to_pfn(a), Order{k}));
    // Orders below kPcpOrders come through this CPU's cache, refilled by one
    // batch; larger ones straight from the buddy.
    const unsigned taken = k < PageAllocator::kPcpOrders ? PageAllocator::kPcpBatch[k] : 1;
    EXPECT_EQ(zone_blocks(pages, Zone::Dma32), after_taking(before, k, taken));
    EXPECT_EQ(pages.counters().free_frames, free_before - (uint64_t{1} << k));
    const FrameDescriptor& head = desc(pages, a);
    EXPECT_EQ(frame_state(head), FrameState::Allocated);
    EXPECT_EQ(head.order, k);
    for (uint64_t i = 1; i < (uint64_t{1} << k); ++i)
      ASSERT_EQ(frame_state(desc(pages, a + (i << kPageShift))), FrameState::Tail) << "frame " << i;
    ASSERT_TRUE(Verified(pages));

    pages.free_pages(a, Order{k});
    EXPECT_EQ(frame_state(head),
              k < PageAllocator::kPcpOrders ? FrameState::Cached : FrameState::Free);
    EXPECT_EQ(pages.counters().free_frames, free_before);
    ASSERT_TRUE(Verified(pages));
    pages.drain_cpu_caches();
    // Everything merged back: the same blocks at every order.
    EXPECT_EQ(zone_blocks(pages, Zone::Dma32), before);
    ASSERT_TRUE(Verified(pages));
  }
}

TEST(Buddy, BuddiesMergeOnlyWhenBothHalvesAreFree) {
  auto m = dma32_machine(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const auto [a, b] = buddy_pair(pages, 4);
  ASSERT_FALSE(a.is_null());
  pages.drain_cpu_caches();
  const std::vector<uint64_t> both_out = zone_blocks(pages, Zone::Dma32);
  pages.free_pages(a, Order{4});
  std::vector<uint64_t> expect = both_out;
  ++expect[4];
  EXPECT_EQ(zone_blocks(pages, Zone::Dma32), expect) << "no merge while the buddy is allocated";
  EXPECT_EQ(frame_state(desc(pages, a)), FrameState::Free);
  ASSERT_TRUE(Verified(pages));
  pages.free_pages(b, Order{4});
  EXPECT_EQ(pages.free_blocks(Zone::Dma32, Order{4}), both_out[4]) << "the pair merged";
  const PhysAddr upper = a < b ? b : a;
  EXPECT_EQ(frame_state(desc(pages, upper)), FrameState::Tail);
  ASSERT_TRUE(Verified(pages));
}

// ---- zones and flags -----------------------------------------------------------

TEST(Buddy, ZoneLimitsAndFallbackToLowerZones) {
  auto m = three_zone_machine();
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  for (unsigned z = 0; z < kZoneCount; ++z)
    EXPECT_GT(pages.zone_counters(static_cast<Zone>(z)).managed_frames, 0u) << zone_name(static_cast<Zone>(z));

  std::vector<Block> held;
  auto take = [&](unsigned order, gfp_t flags) {
    const PhysAddr p = pages.alloc_pages(Order{order}, flags);
    if (!p.is_null()) held.push_back({p, order});
    return p;
  };
  const PhysAddr dma = take(0, GFP_DMA);
  const PhysAddr dma32 = take(0, GFP_DMA32);
  const PhysAddr normal = take(0, GFP_KERNEL);
  EXPECT_LT(dma.value, kDmaLimit);
  EXPECT_GE(dma.value, 1 * MiB);
  EXPECT_GE(dma32.value, kDmaLimit) << "DMA32 is tried before DMA";
  EXPECT_LT(dma32.value, kDma32Limit);
  EXPECT_GE(normal.value, kDma32Limit) << "no limit: Normal first";
  ASSERT_TRUE(Verified(pages));

  // Empty Normal, block by block from the largest order down.
  auto exhaust = [&](gfp_t zone_flags) {
    for (unsigned k = kMaxOrder + 1; k-- > 0;)
      while (!take(k, zone_flags | __GFP_THISZONE | __GFP_NOWARN).is_null()) {
      }
  };
  exhaust(GFP_KERNEL);
  EXPECT_EQ(pages.zone_counters(Zone::Normal).free_frames, 0u);
  ASSERT_TRUE(Verified(pages));
  EXPECT_TRUE(pages.alloc_pages(Order{0}, __GFP_THISZONE | __GFP_NOWARN).is_null())
      << "THISZONE: Normal is empty though DMA32 has memory";
  const PhysAddr fell_back = take(0, GFP_KERNEL);
  EXPECT_GE(fell_back.value, kDmaLimit);
  EXPECT_LT(fell_back.value, kDma32Limit) << "fell back to DMA32";

  exhaust(GFP_DMA32);
  EXPECT_EQ(pages.zone_counters(Zone::Dma32).free_frames, 0u);
  EXPECT_TRUE(pages.alloc_pages(Order{0}, GFP_DMA32 | __GFP_THISZONE | __GFP_NOWARN).is_null());
  const PhysAddr fell_twice = take(0, GFP_KERNEL);
  EXPECT_LT(fell_twice.value, kDmaLimit) << "then to DMA";
  EXPECT_LT(take(0, GFP_DMA32).value, kDmaLimit);
  ASSERT_TRUE(Verified(pages));

  for (const Block& b : held) pages.free_pages(b.phys, Order{b.order});
  ASSERT_TRUE(Verified(pages));
}

TEST(Buddy, ThisZoneFailsForAnAbsentZone) {
  auto m = Machine::with_ram(8 * MiB);  // DMA memory only
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const PageSnapshot before = PageSnapshot::of(pages);
  EXPECT_TRUE(pages.alloc_pages(Order{0}, __GFP_THISZONE | __GFP_NOWARN).is_null());
  EXPECT_TRUE(pages.alloc_pages(Order{0}, GFP_DMA32 | __GFP_THISZONE | __GFP_NOWARN).is_null());
  test::expect_same(before, PageSnapshot::of(pages), "failed THISZONE requests change nothing");
  const PhysAddr a = pages.alloc_pages(Order{0}, GFP_DMA32);
  const PhysAddr b = pages.alloc_pages(Order{0}, GFP_KERNEL);
  const PhysAddr c = pages.alloc_pages(Order{0}, GFP_DMA | __GFP_THISZONE);
  for (PhysAddr p : {a, b, c}) {
    EXPECT_FALSE(p.is_null());
    EXPECT_LT(p.value, kDmaLimit);
    pages.free_pages(p, Order{0});
  }
}

TEST(Buddy, ZeroFlagZeroesTheBlock) {
  auto m = Machine::with_ram(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  for (unsigned k : {0u, 2u}) {
    const PhysAddr a = pages.alloc_pages(Order{k}, GFP_KERNEL);
    ASSERT_FALSE(a.is_null());
    std::memset(pages.to_virt(a), 0xa5, Order{k}.bytes());
    pages.free_pages(a, Order{k});
    // The per-CPU cache is a stack: the dirty block comes straight back.
    const PhysAddr b = pages.alloc_pages(Order{k}, __GFP_ZERO);
    ASSERT_EQ(b, a);
    const auto* bytes = pages.to_virt<unsigned char>(b);
    size_t nonzero = 0;
    for (size_t i = 0; i < Order{k}.bytes(); ++i) nonzero += bytes[i] != 0;
    EXPECT_EQ(nonzero, 0u) << "order " << k;
    pages.free_pages(b, Order{k});
  }
  ASSERT_TRUE(Verified(pages));
}

// ---- exhaustion --------------------------------------------------------------

TEST(Buddy, ExhaustionReturnsNullAndChangesNothing) {
  auto m = Machine::with_ram(6 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const uint64_t managed = pages.counters().managed_frames;
  std::vector<Block> held;
  std::mt19937_64 rng(20240611);
  // Random orders until even one frame cannot be had.
  for (;;) {
    const unsigned k = static_cast<unsigned>(rng() % 4);
    PhysAddr p = pages.alloc_pages(Order{k}, __GFP_NOWARN);
    if (p.is_null()) p = pages.alloc_pages(Order{0}, __GFP_NOWARN);
    if (p.is_null()) break;
    held.push_back({p, desc(pages, p).order});
  }
  EXPECT_EQ(pages.counters().free_frames, 0u) << "null only when every frame is out";
  uint64_t held_frames = 0;
  for (const Block& b : held) held_frames += uint64_t{1} << b.order;
  EXPECT_EQ(held_frames, managed);
  EXPECT_TRUE(test::Disjoint(held));
  ASSERT_TRUE(Verified(pages));

  const PageSnapshot before = PageSnapshot::of(pages);
  {
    test::LogCapture quiet;
    for (unsigned k = 0; k <= kMaxOrder; ++k) {
      EXPECT_TRUE(pages.alloc_pages(Order{k}, GFP_KERNEL).is_null());
      EXPECT_TRUE(pages.alloc_pages(Order{k}, __GFP_ZERO | GFP_DMA).is_null());
    }
    EXPECT_TRUE(pages.alloc_contig(1, {}).is_null());
    EXPECT_NE(quiet.text().find("alloc_pages: no block of order"), std::string::npos)
        << "a failure without __GFP_NOWARN says so in the log";
  }
  test::expect_same(before, PageSnapshot::of(pages), "failed requests change nothing");
  ASSERT_TRUE(Verified(pages));
  for (const Block& b : held) pages.free_pages(b.phys, Order{b.order});
}

// ---- three free orders -----------------------------------------------------------

enum class FreeOrder { Allocation, Reverse, Random };

class BuddyFreeOrder : public ::testing::TestWithParam<FreeOrder> {};

TEST_P(BuddyFreeOrder, FreesRestoreEveryBlock) {
  const uint64_t seed = 0xb0dd1e5ull + static_cast<uint64_t>(GetParam());
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto m = Machine::with_ram(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const PageSnapshot start = PageSnapshot::of(pages);
  std::mt19937_64 rng(seed);
  std::vector<Block> held;
  for (int step = 0; step < 300; ++step) {
    // Mostly small orders, some large ones.
    const unsigned k = (rng() % 4 == 0) ? static_cast<unsigned>(4 + rng() % 4) : static_cast<unsigned>(rng() % 4);
    const gfp_t flags = (rng() % 3 == 0) ? GFP_DMA : GFP_KERNEL;
    const PhysAddr p = pages.alloc_pages(Order{k}, flags | __GFP_NOWARN);
    if (p.is_null()) continue;
    ASSERT_TRUE(block_aligned(to_pfn(p), Order{k}));
    if (flags == GFP_DMA) {
      ASSERT_LT(p.value, kDmaLimit);
    }
    *pages.to_virt<uint64_t>(p) = p.value;  // a tag, checked at free
    held.push_back({p, k});
    ASSERT_TRUE(Verified(pages)) << "after allocation " << step;
  }
  ASSERT_GT(held.size(), 100u);
  ASSERT_TRUE(test::Disjoint(held));

  switch (GetParam()) {
    case FreeOrder::Allocation: break;
    case FreeOrder::Reverse: std::reverse(held.begin(), held.end()); break;
    case FreeOrder::Random: std::shuffle(held.begin(), held.end(), rng); break;
  }
  for (size_t i = 0; i < held.size(); ++i) {
    ASSERT_EQ(*pages.to_virt<uint64_t>(held[i].phys), held[i].phys.value) << "tag overwritten";
    pages.free_pages(held[i].phys, Order{held[i].order});
    ASSERT_TRUE(Verified(pages)) << "after free " << i;
  }
  pages.drain_cpu_caches();
  test::expect_same(start, PageSnapshot::of(pages), "every block merged back");
}

INSTANTIATE_TEST_SUITE_P(Orders, BuddyFreeOrder,
                         ::testing::Values(FreeOrder::Allocation, FreeOrder::Reverse, FreeOrder::Random),
                         [](const ::testing::TestParamInfo<FreeOrder>& info) {
                           switch (info.param) {
                             case FreeOrder::Allocation: return std::string("AllocationOrder");
                             case FreeOrder::Reverse: return std::string("Reverse");
                             case FreeOrder::Random: return std::string("Random");
                           }
                           return std::string("Unknown");
                         });

// ---- per-CPU caches ------------------------------------------------------------

// A refill takes kPcpBatch[k] blocks from a zone of 8 MiB or more, and at
// most 1/64 of a smaller zone's frames (at least one block).
TEST(Buddy, PerCpuRefillBatchScalesWithATinyZone) {
  for (unsigned k = 0; k < PageAllocator::kPcpOrders; ++k) {
    EXPECT_EQ(PageAllocator::pcp_refill_batch(2048, k), PageAllocator::kPcpBatch[k]) << "8 MiB";
    EXPECT_EQ(PageAllocator::pcp_refill_batch(1 << 20, k), PageAllocator::kPcpBatch[k]) << "4 GiB";
    EXPECT_EQ(PageAllocator::pcp_refill_batch(1, k), 1u);
  }
  EXPECT_EQ(PageAllocator::pcp_refill_batch(700, 0), 10u);  // -m 3M's zone: 40 KiB per refill
  EXPECT_EQ(PageAllocator::pcp_refill_batch(700, 3), 1u);
  for (uint64_t managed = 1; managed < 4096; managed += 37)
    for (unsigned k = 0; k < PageAllocator::kPcpOrders; ++k) {
      const uint64_t frames = uint64_t{PageAllocator::pcp_refill_batch(managed, k)} << k;
      EXPECT_TRUE(frames <= managed / PageAllocator::kPcpZoneShare || frames == (uint64_t{1} << k))
          << managed << " frames, order " << k;
    }
}

// What the scaling is for: a zone of 1.25 MiB, one whole 1 MiB block
// (order 8) and, beside it, what bootmem left of the first 256 KiB. One
// refill of every cached order took 4 x 128 KiB from the smallest blocks
// up: the small ones ran out and the refills split the 1 MiB block, so an
// order-8 request (no retry) failed with two thirds of the zone free.
TEST(Buddy, PerCpuRefillsLeaveATinyZonesLargeBlockWhole) {
  auto m = std::make_unique<Machine>(std::initializer_list<Region>{usable(16 * MiB + 768 * KiB, 1280 * KiB)},
                                     PageAllocatorConfig{.cpu_count = 1});
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const uint64_t managed = pages.zone_counters(Zone::Dma32).managed_frames;
  uint64_t small = 0, refills = 0;
  for (unsigned k = 0; k < 8; ++k) small += pages.free_blocks(Zone::Dma32, Order{k}) << k;
  for (unsigned k = 0; k < PageAllocator::kPcpOrders; ++k)
    refills += uint64_t{PageAllocator::pcp_refill_batch(managed, k)} << k;
  // The layout this test needs (bootmem's share may change): one order-8
  // block, fewer small frames than four full batches, room for the scaled ones.
  ASSERT_EQ(pages.free_blocks(Zone::Dma32, Order{8}), 1u);
  ASSERT_LT(small, 4u * 32);
  ASSERT_GE(small, 2 * refills) << "managed " << managed;
  std::vector<std::pair<PhysAddr, unsigned>> held;
  for (unsigned k = 0; k < PageAllocator::kPcpOrders; ++k) {
    const PhysAddr p = pages.alloc_pages(Order{k}, GFP_KERNEL);
    ASSERT_FALSE(p.is_null()) << "order " << k;
    held.emplace_back(p, k);
  }
  EXPECT_EQ(pages.free_blocks(Zone::Dma32, Order{8}), 1u) << "the 1 MiB block was split by the refills";
  const PhysAddr big = pages.alloc_pages(Order{8}, GFP_KERNEL | __GFP_NORETRY);
  EXPECT_FALSE(big.is_null());
  if (!big.is_null()) pages.free_pages(big, Order{8});
  for (auto [p, k] : held) pages.free_pages(p, Order{k});
}

TEST(Buddy, PerCpuCacheStaysBelowItsHighWaterMark) {
  auto m = dma32_machine(16 * MiB, 1);  // one zone, one CPU: one cache stack per order
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::vector<PhysAddr> held;
  for (int i = 0; i < 600; ++i) held.push_back(pages.alloc_pages(Order{0}, GFP_KERNEL));
  EXPECT_LE(pages.counters().cached_frames, PageAllocator::kPcpBatch[0]);
  for (PhysAddr p : held) {
    pages.free_pages(p, Order{0});
    ASSERT_LE(pages.counters().cached_frames, PageAllocator::kPcpHigh[0]);
  }
  EXPECT_GT(pages.counters().cached_frames, 0u);
  ASSERT_TRUE(Verified(pages));
  pages.drain_cpu_cache(0);
  EXPECT_EQ(pages.counters().cached_frames, 0u);
  ASSERT_TRUE(Verified(pages));
}

// ---- release_reserved -------------------------------------------------------------

TEST(Buddy, BootloaderReclaimableIsReservedUntilReleased) {
  Machine m({usable(16 * MiB, 16 * MiB), Region{32 * MiB, 4 * MiB, RegionType::BootloaderReclaimable},
             usable(36 * MiB, 12 * MiB)});
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  ASSERT_EQ(pages.range_count(), 1u) << "reclaimable memory shares the range of its neighbours";
  const PageCounters start = pages.counters();
  EXPECT_EQ(start.reserved_frames << kPageShift, pages.bootmem_bytes() + 4 * MiB);
  EXPECT_EQ(start.managed_frames + start.reserved_frames, (32 * MiB) >> kPageShift);
  const FrameDescriptor& first = desc(pages, PhysAddr{32 * MiB});
  EXPECT_EQ(frame_state(first), FrameState::Reserved);
  EXPECT_EQ(first.owner, kReservedBootloaderReclaimable);
  {
    ErrorRecorder rec;
    pages.free_pages(PhysAddr{32 * MiB}, Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageReserved);
  }

  // Never handed out before release.
  {
    LeaveAsFound guard(pages);
    std::vector<PhysAddr> held;
    for (PhysAddr p; !(p = pages.alloc_pages(Order{0}, __GFP_NOWARN)).is_null();) held.push_back(p);
    for (PhysAddr p : held) {
      EXPECT_FALSE(p.value >= 32 * MiB && p.value < 36 * MiB);
      pages.free_pages(p, Order{0});
    }
  }

  const uint64_t top_before = pages.free_blocks(Zone::Dma32, Order{kMaxOrder});
  EXPECT_EQ(pages.release_reserved(PhysAddr{32 * MiB}, (4 * MiB) >> kPageShift), (4 * MiB) >> kPageShift);
  const PageCounters after = pages.counters();
  EXPECT_EQ(after.reserved_frames, start.reserved_frames - 1024);
  EXPECT_EQ(after.managed_frames, start.managed_frames + 1024);
  EXPECT_EQ(after.free_frames, start.free_frames + 1024);
  EXPECT_EQ(pages.free_blocks(Zone::Dma32, Order{kMaxOrder}), top_before + 1) << "merged to one 4 MiB block";
  ASSERT_TRUE(Verified(pages));

  // Twice: nothing left to release; reported and refused.
  ErrorRecorder rec;
  EXPECT_EQ(pages.release_reserved(PhysAddr{32 * MiB}, 16), 0u);
  EXPECT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(pages.counters().free_frames, start.free_frames + 1024);
  ASSERT_TRUE(Verified(pages));
}

TEST(Buddy, ReleaseReservedLeavesOtherFramesAlone) {
  Machine m({usable(16 * MiB, 4 * MiB), Region{20 * MiB, 12 * KiB, RegionType::BootloaderReclaimable},
             usable(20 * MiB + 12 * KiB, 4 * MiB)});
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const PageCounters start = pages.counters();
  ErrorRecorder rec;
  // One usable (free) frame before, three reclaimable, one usable after.
  EXPECT_EQ(pages.release_reserved(PhysAddr{20 * MiB - 4 * KiB}, 5), 3u);
  EXPECT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(rec.last().pfn, (20 * MiB - 4 * KiB) >> kPageShift) << "names the first frame left alone";
  EXPECT_EQ(pages.counters().free_frames, start.free_frames + 3);
  EXPECT_EQ(pages.counters().reserved_frames, start.reserved_frames - 3);
  ASSERT_TRUE(Verified(pages));
  rec.clear();
  EXPECT_EQ(pages.release_reserved(PhysAddr{20 * MiB + 1}, 1), 0u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument) << "unaligned base";
  EXPECT_EQ(pages.release_reserved(PhysAddr{100 * GiB}, 1), 0u);
  EXPECT_EQ(rec.count(), 2u) << "unmanaged frames are refused";
  ASSERT_TRUE(Verified(pages));
}

// ---- fault injection, mappings, reports ---------------------------------------------

TEST(Buddy, FaultInjectionFailsTheNthAllocationAndLater) {
  auto m = Machine::with_ram(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  pages.set_fail_after(3);
  const PhysAddr a = pages.alloc_pages(Order{0}, GFP_KERNEL);
  const PhysAddr b = pages.alloc_contig(3, {});
  EXPECT_FALSE(a.is_null());
  EXPECT_FALSE(b.is_null());
  const PageSnapshot before = PageSnapshot::of(pages);
  EXPECT_TRUE(pages.alloc_pages(Order{0}, __GFP_NOWARN).is_null());
  EXPECT_TRUE(pages.alloc_pages(Order{5}, __GFP_NOWARN).is_null());
  EXPECT_TRUE(pages.alloc_contig(1, {.flags = __GFP_NOWARN}).is_null());
  EXPECT_EQ(pages.fail_after_calls(), 5u);
  test::expect_same(before, PageSnapshot::of(pages), "an injected failure changes nothing");
  // Armed: every per-CPU gate closed (the fast paths' only range test).
  EXPECT_TRUE(Verified(pages));
  pages.set_fail_after(0);
  EXPECT_TRUE(Verified(pages)) << "disarmed: the CPUs' gates open again, the rest closed";
  const PhysAddr c = pages.alloc_pages(Order{0}, GFP_KERNEL);
  EXPECT_FALSE(c.is_null());
  pages.free_pages(a, Order{0});
  pages.free_pages(c, Order{0});
  pages.free_contig(b, 3);
}

TEST(Buddy, MappingCountDoesNotGrowWithAllocations) {
  auto m = Machine::with_ram(64 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const size_t maps_before = hosted::mapping_count();
  std::mt19937_64 rng(77);
  std::vector<Block> held;
  for (int i = 0; i < 20000; ++i) {
    if (held.empty() || rng() % 3 != 0) {
      const unsigned k = static_cast<unsigned>(rng() % 6);
      const PhysAddr p = pages.alloc_pages(Order{k}, __GFP_NOWARN);
      if (!p.is_null()) {
        std::memset(pages.to_virt(p), 0x5a, 64);  // touch it
        held.push_back({p, k});
      }
    } else {
      const size_t i2 = rng() % held.size();
      pages.free_pages(held[i2].phys, Order{held[i2].order});
      held[i2] = held.back();
      held.pop_back();
    }
  }
  EXPECT_EQ(hosted::mapping_count(), maps_before);
  for (const Block& b : held) pages.free_pages(b.phys, Order{b.order});
  EXPECT_EQ(hosted::mapping_count(), maps_before);
}

TEST(Buddy, BuddyinfoHasLinuxLayout) {
  auto m = three_zone_machine();
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const PhysAddr held = pages.alloc_pages(Order{3}, GFP_DMA);  // make the DMA line less regular
  std::string expected;
  for (unsigned z = 0; z < kZoneCount; ++z) {
    char line[160];
    int n = std::snprintf(line, sizeof line, "Node 0, zone %8s ", zone_name(static_cast<Zone>(z)));
    for (unsigned k = 0; k < kOrderCount; ++k)
      n += std::snprintf(line + n, sizeof line - n, "%6" PRIu64 " ",
                         pages.free_blocks(static_cast<Zone>(z), Order{k}));
    expected += std::string(line) + "\n";
  }
  char buf[1024];
  TextBuffer t(buf, sizeof buf);
  pages.format_buddyinfo(t);
  EXPECT_EQ(std::string(buf), expected);
  EXPECT_EQ(std::string(buf).rfind("Node 0, zone      DMA ", 0), 0u);
  pages.free_pages(held, Order{3});
}

TEST(Buddy, FormatZonesListsZonesRangesAndCounters) {
  auto m = three_zone_machine();
  ASSERT_TRUE(m->ok());
  char buf[2048];
  TextBuffer t(buf, sizeof buf);
  m->pages().format_zones(t);
  const std::string s = buf;
  for (const char* want : {"zone DMA ", "zone DMA32", "zone Normal", "range [0x000100000000, 0x000180000000)",
                           "16 bytes per frame", "managed "})
    EXPECT_NE(s.find(want), std::string::npos) << want << "\n" << s;
  EXPECT_FALSE(t.truncated());
}

// ---- verify() finds what it promises to find ------------------------------------

TEST(Buddy, VerifyReportsCorruptedDescriptors) {
  auto m = dma32_machine(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const auto [lo, hi] = buddy_pair(pages, 3);  // two allocated order-3 buddies
  ASSERT_FALSE(lo.is_null());
  const PhysAddr held = pages.alloc_pages(Order{4}, GFP_KERNEL);
  pages.drain_cpu_caches();
  // A free block: give one of the pair back (its buddy stays allocated).
  pages.free_pages(lo, Order{3});
  pages.drain_cpu_caches();
  ASSERT_EQ(frame_state(desc(pages, lo)), FrameState::Free);
  ASSERT_TRUE(Verified(pages));

  struct Corruption {
    const char* what;
    PhysAddr frame;
    void (*corrupt)(FrameDescriptor&);
  };
  const Corruption corruptions[] = {
      {"free head turned Tail", lo, [](FrameDescriptor& d) { set_frame_state(d, FrameState::Tail); }},
      {"free head with another order", lo, [](FrameDescriptor& d) { d.order = 2; }},
      {"free list prev link broken", lo, [](FrameDescriptor& d) { d.link_prev = 7; }},
      {"free block marked allocated", lo, [](FrameDescriptor& d) { set_frame_state(d, FrameState::Allocated); }},
      {"tail inside an allocated block made a head", held + kPageSize,
       [](FrameDescriptor& d) { set_frame_state(d, FrameState::Allocated); }},
      {"allocated block's buddy made Free (unmerged buddies)", hi,
       [](FrameDescriptor& d) { set_frame_state(d, FrameState::Free); }},
      {"allocated head turned Cached outside every cache", held,
       [](FrameDescriptor& d) { set_frame_state(d, FrameState::Cached); }},
      {"reserved frame freed behind the allocator's back", pages.range_info(0).descriptors,
       [](FrameDescriptor& d) { set_frame_state(d, FrameState::Free); }},
  };
  for (const Corruption& c : corruptions) {
    SCOPED_TRACE(c.what);
    FrameDescriptor* d = pages.descriptor(to_pfn(c.frame));
    ASSERT_NE(d, nullptr);
    const FrameDescriptor saved = *d;
    c.corrupt(*d);
    {
      ErrorRecorder rec;
      EXPECT_FALSE(pages.verify());
      ASSERT_EQ(rec.count(), 1u);
      EXPECT_EQ(rec.last_code(), ErrorCode::VerifyFailed);
      EXPECT_NE(rec.last_message().find("verify-failed"), std::string::npos);
    }
    *d = saved;
    ASSERT_TRUE(Verified(pages));
  }
  pages.free_pages(hi, Order{3});
  pages.free_pages(held, Order{4});
}

// ---- misuse: named, refused, nothing changed -------------------------------------

struct MisuseCase {
  const char* what;
  ErrorCode code;
};

class BuddyMisuse : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = Machine::with_ram(32 * MiB);
    ASSERT_TRUE(m_->ok());
  }
  PageAllocator& pages() { return m_->pages(); }

  // Runs `bad` with errors recorded: one report of `code`, naming the error,
  // the frame and the caller; the allocator exactly as before.
  template <typename Fn>
  void expect_refused(ErrorCode code, Fn&& bad, const char* what) {
    SCOPED_TRACE(what);
    ASSERT_TRUE(Verified(pages()));
    const PageSnapshot before = PageSnapshot::of(pages());
    ErrorRecorder rec;
    {
      test::LogCapture quiet;
      bad();
    }
    ASSERT_EQ(rec.count(), 1u);
    EXPECT_EQ(rec.last_code(), code) << rec.last_message();
    EXPECT_NE(rec.last_message().find(error_name(code)), std::string::npos) << rec.last_message();
    EXPECT_NE(rec.last_message().find("frame="), std::string::npos) << rec.last_message();
    EXPECT_NE(rec.last_message().find("caller="), std::string::npos) << rec.last_message();
    test::expect_same(before, PageSnapshot::of(pages()), what);
    EXPECT_TRUE(Verified(pages()));
  }

  std::unique_ptr<Machine> m_;
};

TEST_F(BuddyMisuse, DoubleFreeInEveryFreeState) {
  LeaveAsFound guard(pages());
  const PhysAddr a = pages().alloc_pages(Order{0}, GFP_KERNEL);
  pages().free_pages(a, Order{0});
  ASSERT_EQ(frame_state(desc(pages(), a)), FrameState::Cached);
  expect_refused(ErrorCode::PageDoubleFree, [&] { pages().free_pages(a, Order{0}); }, "block in a per-CPU cache");

  // keep, b's buddy, stays allocated for now. Not a structured binding: the
  // lambdas below capture b and keep, which clang before 16 refuses for one.
  const std::pair<PhysAddr, PhysAddr> pair = buddy_pair(pages(), 5);
  const PhysAddr b = pair.first, keep = pair.second;
  ASSERT_FALSE(b.is_null());
  pages().free_pages(b, Order{5});
  ASSERT_EQ(frame_state(desc(pages(), b)), FrameState::Free);
  expect_refused(ErrorCode::PageDoubleFree, [&] { pages().free_pages(b, Order{5}); }, "block on a free list");
  expect_refused(ErrorCode::PageDoubleFree, [&] { pages().free_pages(b + 3 * kPageSize, Order{0}); },
                 "frame inside a free block");
  pages().free_pages(keep, Order{5});
  ASSERT_EQ(frame_state(desc(pages(), b < keep ? keep : b)), FrameState::Tail);
  expect_refused(ErrorCode::PageDoubleFree, [&] { pages().free_pages(b < keep ? keep : b, Order{5}); },
                 "block merged into a larger free block");
}

TEST_F(BuddyMisuse, ForeignReservedMisalignedWrongOrderTailAndBadOrder) {
  LeaveAsFound guard(pages());
  const PhysAddr a = pages().alloc_pages(Order{2}, GFP_KERNEL);
  ASSERT_FALSE(a.is_null());
  expect_refused(ErrorCode::PageOutsideManaged, [&] { pages().free_pages(PhysAddr{64 * GiB}, Order{0}); },
                 "far above memory");
  expect_refused(ErrorCode::PageOutsideManaged, [&] { pages().free_pages(PhysAddr{0x8000}, Order{0}); },
                 "below the first MiB");
  expect_refused(ErrorCode::PageReserved,
                 [&] { pages().free_pages(pages().range_info(1).descriptors, Order{0}); },
                 "the descriptor array itself");
  expect_refused(ErrorCode::PageMisaligned, [&] { pages().free_pages(a + 2 * kPageSize, Order{2}); },
                 "frame not aligned for the order");
  expect_refused(ErrorCode::PageMisaligned, [&] { pages().free_pages(a + 8, Order{0}); },
                 "address inside a frame");
  expect_refused(ErrorCode::PageWrongOrder, [&] { pages().free_pages(a, Order{1}); }, "smaller order");
  expect_refused(ErrorCode::PageWrongOrder, [&] { pages().free_pages(a, Order{0}); }, "order 0");
  expect_refused(ErrorCode::PageTailFrame, [&] { pages().free_pages(a + kPageSize, Order{0}); },
                 "second frame of the block");
  expect_refused(ErrorCode::PageTailFrame, [&] { pages().free_pages(a + 2 * kPageSize, Order{1}); },
                 "upper half of the block");
  expect_refused(ErrorCode::PageBadOrder, [&] { pages().free_pages(a, Order{kOrderCount}); },
                 "free with order 11");
  ErrorRecorder rec;
  const uint64_t warned = warning_count();
  EXPECT_TRUE(pages().alloc_pages(Order{kOrderCount}, GFP_KERNEL | __GFP_NOWARN).is_null());
  EXPECT_TRUE(pages().alloc_pages(Order{kOrderCount}, GFP_KERNEL).is_null());  // out of memory
  EXPECT_EQ(rec.count(), 0u);
  EXPECT_EQ(warning_count(), warned + 1);
  pages().free_pages(a, Order{2});
}

TEST_F(BuddyMisuse, ContiguousAndPageFreesDoNotMix) {
  LeaveAsFound guard(pages());
  // Aligned to 2 frames, so the first piece is an order-1 block wherever
  // the metadata left the first free frame.
  const PhysAddr c = pages().alloc_contig(3, {.align = 2 * kPageSize});
  const PhysAddr a = pages().alloc_pages(Order{2}, GFP_KERNEL);
  ASSERT_FALSE(c.is_null());
  expect_refused(ErrorCode::ContigBadFree, [&] { pages().free_pages(c, Order{1}); },
                 "free_pages on the first piece of a contiguous range");
  expect_refused(ErrorCode::ContigBadFree, [&] { pages().free_contig(c, 2); }, "wrong frame count");
  expect_refused(ErrorCode::ContigBadFree, [&] { pages().free_contig(c, 4); }, "too many frames");
  expect_refused(ErrorCode::ContigBadFree, [&] { pages().free_contig(a, 4); }, "an alloc_pages block");
  expect_refused(ErrorCode::ContigBadFree, [&] { pages().free_contig(c + 2 * kPageSize, 1); },
                 "a piece that is not the start");
  pages().free_contig(c, 3);
  pages().drain_cpu_caches();
  expect_refused(ErrorCode::PageDoubleFree, [&] { pages().free_contig(c, 3); }, "free_contig twice");
  expect_refused(ErrorCode::PageOutsideManaged, [&] { pages().free_contig(PhysAddr{64 * GiB}, 1); },
                 "free_contig outside memory");
  pages().free_pages(a, Order{2});
}

// With the default (fatal) handler each class ends the process, naming itself.
TEST(BuddyMisuseDeathTest, EachClassIsFatalByDefault) {
  // Re-executed children: the allocator in each is built from scratch.
  const std::string old_style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto m = Machine::with_ram(32 * MiB, 1);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  const PhysAddr a = pages.alloc_pages(Order{2}, GFP_KERNEL);
  const PhysAddr f = pages.alloc_pages(Order{0}, GFP_KERNEL);
  pages.free_pages(f, Order{0});
  const PhysAddr c = pages.alloc_contig(3, {});
  ASSERT_FALSE(a.is_null());
  ASSERT_FALSE(c.is_null());
  EXPECT_DEATH(pages.free_pages(f, Order{0}), "page-double-free.*frame=");
  EXPECT_DEATH(pages.free_pages(PhysAddr{64 * GiB}, Order{0}), "page-outside-managed-memory");
  EXPECT_DEATH(pages.free_pages(pages.range_info(1).descriptors, Order{0}), "page-reserved-frame");
  EXPECT_DEATH(pages.free_pages(a + 2 * kPageSize, Order{2}), "page-misaligned-for-order");
  EXPECT_DEATH(pages.free_pages(a, Order{1}), "page-wrong-order");
  EXPECT_DEATH(pages.free_pages(a + kPageSize, Order{0}), "page-tail-frame");
  EXPECT_DEATH(pages.free_pages(a, Order{kOrderCount}), "page-order-out-of-range");
  EXPECT_DEATH(pages.free_pages(c, Order{0}), "contig-bad-free");
  EXPECT_TRUE(Verified(pages));
  pages.free_pages(a, Order{2});
  pages.free_contig(c, 3);
  EXPECT_TRUE(Verified(pages));
  GTEST_FLAG_SET(death_test_style, old_style);
}

}  // namespace
}  // namespace pf
