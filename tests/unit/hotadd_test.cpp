// hotadd_test.cpp — memory hot-add (PageAllocator::add_memory, the core of
// pf_add_memory): memory added to a running allocator is handed out at every
// order and by kmalloc, its own metadata frames are reserved and refused by
// name, the counters move by exact equations, every refusal is named and
// changes nothing, the range table takes kMaxHotplugRanges adds and then
// says so, zones that had no memory open, and adds run while other threads
// allocate and free (run under ThreadSanitizer by `make test-tsan`: the
// concurrent suite's name contains "Concurren").
//
// Each machine is a hosted window much larger than the map given to init:
// the part above the map is never touched until it is added (as the
// LD_PRELOAD shim does with its one big window).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::Verified;

// A map given to init, inside a window reaching up to `window_end`.
class HotMachine {
 public:
  HotMachine(std::initializer_list<Region> regions, uint64_t window_end, unsigned cpus = 4)
      : map_(std::make_unique<MemoryMap>()) {
    uint64_t low = ~uint64_t{0};
    for (const Region& r : regions) {
      map_->add(r);
      if (region_is_managed(r.type) && r.base < low) low = r.base;
    }
    if (!map_->normalise() || !memory_.reserve(PhysAddr{low}, PhysAddr{window_end})) return;
    PageAllocatorConfig config{.direct_map_offset = memory_.direct_map_offset(), .cpu_count = cpus};
    ok_ = pages_->init(*map_, config) == PF_OK;
  }
  bool ok() const { return ok_; }
  PageAllocator& pages() { return *pages_; }
  hosted::HostedMemory& memory() { return memory_; }

 private:
  std::unique_ptr<MemoryMap> map_;
  hosted::HostedMemory memory_;
  std::unique_ptr<PageAllocator> pages_ = std::make_unique<PageAllocator>();
  bool ok_ = false;
};

constexpr uint64_t kFrameBytes = kPageSize;
uint64_t frames_of(uint64_t bytes) { return bytes >> kPageShift; }
// Frames the descriptors of `frames` frames need (16 bytes each).
uint64_t descriptor_frames(uint64_t frames) {
  return (frames * sizeof(FrameDescriptor) + kFrameBytes - 1) >> kPageShift;
}

// Frames a hot-add of `frames` frames that opens no zone keeps for its
// metadata: its descriptors, then (64-byte aligned) its pfn lookup.
uint64_t meta_frames(uint64_t frames) {
  const uint64_t desc = (frames * sizeof(FrameDescriptor) + 63) & ~uint64_t{63};
  return (desc + PageAllocator::hotplug_lookup_bytes() + kFrameBytes - 1) >> kPageShift;
}

// Everything that must not move when a hot-add is refused.
struct TableState {
  test::PageSnapshot snap;
  size_t ranges;
  uint64_t meta;
  size_t left;
  static TableState of(const PageAllocator& p) {
    return {test::PageSnapshot::of(p), p.range_count(), p.hotplug_meta_frames(), p.hotplug_ranges_left()};
  }
};
void expect_unchanged(const TableState& a, const PageAllocator& p, const char* what) {
  const TableState b = TableState::of(p);
  test::expect_same(a.snap, b.snap, what);
  EXPECT_EQ(a.ranges, b.ranges) << what;
  EXPECT_EQ(a.meta, b.meta) << what;
  EXPECT_EQ(a.left, b.left) << what;
}

bool inside(PhysAddr p, uint64_t base, uint64_t bytes) { return p.value >= base && p.value < base + bytes; }

// Allocates every block of `order` it can get (no warning), returns them.
std::vector<PhysAddr> take_all(PageAllocator& pages, unsigned order, gfp_t flags = GFP_KERNEL) {
  std::vector<PhysAddr> out;
  for (;;) {
    const PhysAddr p = pages.alloc_pages(Order{order}, flags | __GFP_NOWARN);
    if (p.is_null()) break;
    out.push_back(p);
  }
  return out;
}
void give_all(PageAllocator& pages, const std::vector<PhysAddr>& blocks, unsigned order) {
  for (PhysAddr p : blocks) pages.free_pages(p, Order{order});
}

// ---- hot-add, then allocate from the new memory ------------------------------

TEST(HotAdd, AddedFramesAreFreeMinusTheirOwnMetadata) {
  HotMachine m({test::usable(1 * MiB, 32 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const PageCounters before = pages.counters();
  const size_t ranges = pages.range_count();
  const size_t left = pages.hotplug_ranges_left();
  EXPECT_GE(left, 64u);

  const uint64_t base = 64 * MiB, bytes = 16 * MiB, frames = frames_of(bytes);
  ASSERT_EQ(pages.add_memory(PhysAddr{base}, bytes), PF_OK);
  EXPECT_TRUE(Verified(pages));

  // Metadata: the descriptors (here a whole number of frames) and the
  // frames of the new lookup table; no zone was opened, so no cache slots.
  const uint64_t meta = pages.hotplug_meta_frames();
  EXPECT_EQ(meta, descriptor_frames(frames) + (PageAllocator::hotplug_lookup_bytes() + kFrameBytes - 1) / kFrameBytes);
  EXPECT_EQ(meta, meta_frames(frames));
  const PageCounters after = pages.counters();
  EXPECT_EQ(after.managed_frames, before.managed_frames + frames - meta);
  EXPECT_EQ(after.free_frames, before.free_frames + frames - meta);
  EXPECT_EQ(after.reserved_frames, before.reserved_frames + meta);
  EXPECT_EQ(pages.reserved_frames(kReservedHotplugMeta), meta);
  EXPECT_EQ(pages.range_count(), ranges + 1);
  EXPECT_EQ(pages.hotplug_ranges_left(), left - 1);

  // The new range is in the table, in its zone, its descriptors at its start.
  const PageAllocator::RangeInfo info = pages.range_info(ranges);
  EXPECT_EQ(info.base.value, base);
  EXPECT_EQ(info.end.value, base + bytes);
  EXPECT_EQ(info.zone, Zone::Dma32);
  EXPECT_EQ(info.descriptors.value, base);
  EXPECT_NE(pages.descriptor(Pfn{frames_of(base + bytes) - 1}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(base + bytes)}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(base) - 1}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{uint64_t{1} << 39}), nullptr) << "beyond the lookup's reach";
  char text[2048];
  TextBuffer t(text, sizeof text);
  pages.format_zones(t);
  EXPECT_NE(std::string(text).find("range [0x000004000000, 0x000005000000)"), std::string::npos) << text;
  EXPECT_NE(std::string(text).find("hot-added: 1 range, its metadata"), std::string::npos) << text;

  // Every frame the range added is handed out at order 0 and comes back.
  pages.drain_cpu_caches();
  const std::vector<PhysAddr> all = take_all(pages, 0);
  uint64_t in_new = 0;
  for (PhysAddr p : all) in_new += inside(p, base, bytes);
  EXPECT_EQ(in_new, frames - meta);
  EXPECT_EQ(all.size(), before.free_frames + frames - meta);
  give_all(pages, all, 0);
  EXPECT_TRUE(Verified(pages));
  pages.drain_cpu_caches();
  EXPECT_EQ(pages.counters().free_frames, after.free_frames);
}

TEST(HotAdd, EveryOrderIsServedFromTheAddedRange) {
  HotMachine m({test::usable(1 * MiB, 32 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  // Use up what init gave, so that everything after comes from the new range.
  const std::vector<PhysAddr> old = take_all(pages, 0);
  pages.drain_cpu_caches();
  const uint64_t base = 128 * MiB, bytes = 64 * MiB;
  ASSERT_EQ(pages.add_memory(PhysAddr{base}, bytes), PF_OK);
  const uint64_t free_after_add = pages.counters().free_frames;
  for (unsigned k = 0; k <= kMaxOrder; ++k) {
    SCOPED_TRACE("order " + std::to_string(k));
    const std::vector<PhysAddr> got = take_all(pages, k);
    ASSERT_FALSE(got.empty());
    for (PhysAddr p : got) {
      EXPECT_TRUE(inside(p, base, bytes)) << std::hex << p.value;
      EXPECT_TRUE(block_aligned(to_pfn(p), Order{k}));
      *m.memory().to_virt<uint64_t>(p) = p.value;  // the memory is there
    }
    // The metadata sits in the range's first 4 MiB block; whole blocks of
    // the largest order are the 15 others.
    if (k == kMaxOrder) { EXPECT_EQ(got.size(), bytes / (4 * MiB) - 1); }
    EXPECT_TRUE(Verified(pages));
    give_all(pages, got, k);
    pages.drain_cpu_caches();
    EXPECT_EQ(pages.counters().free_frames, free_after_add);
  }
  give_all(pages, old, 0);
  EXPECT_TRUE(Verified(pages));
}

// A 32 MiB machine taken whole (every frame held), a slab layer over it,
// and 32 MiB added at 256 MiB: everything the slab layer grows from then on
// lies in the added range. TearDown frees what was held and checks that
// nothing leaked.
class SlabOverAddedRange : public ::testing::Test {
 protected:
  static constexpr uint64_t base = 256 * MiB, bytes = 32 * MiB;
  HotMachine m{{test::usable(1 * MiB, 32 * MiB)}, 1 * GiB};
  PageAllocator& pages = m.pages();
  SlabAllocator slab;
  std::vector<PhysAddr> held;
  void SetUp() override {
    ASSERT_TRUE(m.ok());
    ASSERT_EQ(slab.init(pages, SlabConfig{.cpu_count = 4}), PF_OK);
    held = take_all(pages, 0);
    ASSERT_EQ(pages.add_memory(PhysAddr{base}, bytes), PF_OK);
  }
  void TearDown() override {
    slab.shrink_all();
    give_all(pages, held, 0);
    EXPECT_EQ(slab.teardown(), 0u);
    EXPECT_TRUE(Verified(pages));
  }
};

TEST_F(SlabOverAddedRange, KmallocGrowsIntoIt) {
  std::vector<void*> objects;
  for (size_t size : {8u, 64u, 200u, 1024u, 4096u, 8192u, 20000u, 1u << 20}) {
    // Slab sizes: enough objects that new slabs must be made (the first
    // may come from slabs init made); large sizes are whole new blocks.
    const int n = size <= 8192 ? 512 : size < (1u << 20) ? 64 : 4;
    int in_new = 0;
    for (int i = 0; i < n; ++i) {
      void* p = slab.kmalloc(size, GFP_KERNEL);
      ASSERT_NE(p, nullptr) << size;
      const bool fresh = inside(pages.to_phys(p), base, bytes);
      if (size > 8192) { EXPECT_TRUE(fresh) << size; }
      in_new += fresh;
      std::memset(p, 0xa5, size);
      objects.push_back(p);
    }
    EXPECT_GE(in_new, n / 2) << size;
  }
  EXPECT_TRUE(Verified(pages));
  EXPECT_TRUE(test::VerifiedBy(slab, "slab verify()"));
  for (void* p : objects) slab.kfree(p);
}

// The slab layer's frees find descriptors through their own copy of the
// page allocator's lookup (SlabAllocator::lookup_), taken at init and
// refreshed when a slab grows. Before any slab grows in the added range the
// copy is pf_init's table, which knows nothing of it: frees there must still
// be served (the walk), misuse there still named, and verify() clean.
TEST_F(SlabOverAddedRange, FreesThroughAnOlderLookupStillFindIt) {
  // Large blocks: whole buddy blocks, no slab grows.
  void* big = slab.kmalloc(64 * KiB, GFP_KERNEL);
  ASSERT_NE(big, nullptr);
  EXPECT_TRUE(inside(pages.to_phys(big), base, bytes));
  EXPECT_TRUE(test::VerifiedBy(slab, "slab verify() with pf_init's lookup copied"));
  const PhysAddr plain = pages.alloc_pages(Order{0}, GFP_KERNEL);
  ASSERT_FALSE(plain.is_null());
  EXPECT_TRUE(inside(plain, base, bytes));
  {
    test::ErrorRecorder rec;
    slab.kfree(pages.to_virt(plain));  // a plain page in the added range: named, refused
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabNotSlabPage);
  }
  pages.free_pages(plain, Order{0});
  slab.kfree(big);
  // Then slabs grow there (the copy follows), and their objects come back.
  std::vector<void*> objects;
  for (int i = 0; i < 2048; ++i) {
    void* p = slab.kmalloc(256, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    objects.push_back(p);
  }
  EXPECT_TRUE(inside(pages.to_phys(objects.back()), base, bytes));
  EXPECT_TRUE(test::VerifiedBy(slab, "slab verify()"));
  for (void* p : objects) slab.kfree(p);
}

// ---- what the metadata is ------------------------------------------------------

TEST(HotAdd, FreeingAMetadataFrameIsRefusedByName) {
  HotMachine m({test::usable(1 * MiB, 32 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t base = 64 * MiB;
  ASSERT_EQ(pages.add_memory(PhysAddr{base}, 8 * MiB), PF_OK);
  const test::PageSnapshot before = test::PageSnapshot::of(pages);
  test::ErrorRecorder errors;
  for (uint64_t f = 0; f < pages.hotplug_meta_frames(); ++f) {
    pages.free_pages(PhysAddr{base + f * kFrameBytes}, Order{0});
    ASSERT_EQ(errors.last_code(), ErrorCode::PageReserved) << f;
    EXPECT_NE(errors.last_message().find("pfalloc: page-reserved-frame"), std::string::npos);
  }
  test::expect_same(before, test::PageSnapshot::of(pages), "refused frees");
  // And reports name the reason.
  EXPECT_STREQ(reserved_reason_name(kReservedHotplugMeta), "hot-add metadata");
  EXPECT_TRUE(Verified(pages));
}

// ---- refusals: each named, nothing changed ----------------------------------------

struct Refusal {
  const char* what;
  uint64_t base, bytes;
  int status;
  const char* name;
};

TEST(HotAdd, RefusalsAreNamedAndChangeNothing) {
  // Usable RAM with a hole, a reserved MMIO window above it.
  HotMachine m({test::usable(1 * MiB, 31 * MiB), test::usable(48 * MiB, 16 * MiB),
                Region{.base = 256 * MiB, .length = 4 * MiB, .type = RegionType::Reserved}},
               1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  ASSERT_EQ(pages.add_memory(PhysAddr{128 * MiB}, 4 * MiB), PF_OK);
  const Refusal cases[] = {
      {"misaligned base", 200 * MiB + 1, 4 * MiB, PF_ERR_HOTPLUG_MISALIGNED, "hotplug-misaligned"},
      {"misaligned size", 200 * MiB, 4 * MiB + 100, PF_ERR_HOTPLUG_MISALIGNED, "hotplug-misaligned"},
      {"size 0", 200 * MiB, 0, PF_ERR_HOTPLUG_TOO_SMALL, "hotplug-too-small"},
      {"one frame: no room for its metadata", 200 * MiB, kFrameBytes, PF_ERR_HOTPLUG_TOO_SMALL,
       "hotplug-too-small"},
      {"beyond 2^52", kPhysAddrLimit - kFrameBytes, 2 * kFrameBytes, PF_ERR_HOTPLUG_BEYOND_LIMIT,
       "hotplug-beyond-phys-limit"},
      {"wraps", ~uint64_t{0} - 4095, 8192, PF_ERR_HOTPLUG_BEYOND_LIMIT, "hotplug-beyond-phys-limit"},
      {"overlaps init's RAM", 16 * MiB, 4 * MiB, PF_ERR_HOTPLUG_OVERLAP, "hotplug-overlap"},
      {"overlaps a hot-added range", 130 * MiB, 4 * MiB, PF_ERR_HOTPLUG_OVERLAP, "hotplug-overlap"},
      {"contains managed memory", 0x1000, 1 * GiB, PF_ERR_HOTPLUG_OVERLAP, "hotplug-overlap"},
      {"in the hole below the top", 36 * MiB, 4 * MiB, PF_ERR_HOTPLUG_BELOW_TOP,
       "hotplug-below-managed-top"},
      {"overlaps a reserved entry above RAM", 250 * MiB, 8 * MiB, PF_ERR_HOTPLUG_OVERLAP,
       "hotplug-overlap"},
  };
  for (const Refusal& c : cases) {
    SCOPED_TRACE(c.what);
    const TableState before = TableState::of(pages);
    test::LogCapture log;
    EXPECT_EQ(pages.add_memory(PhysAddr{c.base}, c.bytes), c.status);
    EXPECT_NE(log.text().find(std::string("pfalloc: warning: ") + c.name), std::string::npos) << log.text();
    expect_unchanged(before, pages, c.what);
  }
  // Between the RAM and the reserved window, and right above it, is fine.
  EXPECT_EQ(pages.add_memory(PhysAddr{132 * MiB}, 124 * MiB), PF_OK);
  EXPECT_EQ(pages.add_memory(PhysAddr{260 * MiB}, 28 * MiB), PF_OK);
  EXPECT_TRUE(Verified(pages));

  PageAllocator fresh;
  test::LogCapture log;
  EXPECT_EQ(fresh.add_memory(PhysAddr{64 * MiB}, 4 * MiB), PF_ERR_NOT_INITIALISED);
  EXPECT_NE(log.text().find("pfalloc: warning: hotplug-not-initialised"), std::string::npos);
}

// Each hot-add publishes a fresh lookup (page_alloc.hpp RangeLookup) whose
// direct entries must stay exact: the new range's edges and the holes
// before it make mixed chunks, a far add changes the chunk size. Checked
// frame by frame against the range table after each add, then every frame
// goes out and back (verify() checks each direct entry too).
TEST(HotAdd, TheLookupStaysExactAcrossHolesAndNewChunkSizes) {
  HotMachine m({test::usable(1 * MiB, 63 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t free0 = pages.counters().free_frames;
  EXPECT_TRUE(test::DescriptorsExact(pages, 0, frames_of(80 * MiB)));
  struct Add {
    uint64_t base, bytes;
  };
  const Add adds[] = {
      {64 * MiB + 12 * KiB, 32 * MiB - 8 * KiB},  // a 3-frame hole below it, an odd end
      {96 * MiB + 4 * KiB, 32 * MiB - 4 * KiB},   // adjacent: a boundary inside a chunk
      {512 * MiB + 20 * KiB, 8 * MiB},            // far: a new chunk size, a long hole
  };
  uint64_t added = 0;
  for (const Add& a : adds) {
    ASSERT_EQ(pages.add_memory(PhysAddr{a.base}, a.bytes), PF_OK);
    EXPECT_TRUE(Verified(pages));
    EXPECT_TRUE(test::DescriptorsExact(pages, 0, frames_of(a.base + a.bytes) + 2048)) << a.base;
    if (a.base != 96 * MiB + 4 * KiB) {
      EXPECT_EQ(pages.descriptor(Pfn{frames_of(a.base) - 1}), nullptr);
    }
    EXPECT_EQ(pages.descriptor(Pfn{frames_of(a.base + a.bytes)}), nullptr);
    added += frames_of(a.bytes);
  }
  const uint64_t meta = pages.hotplug_meta_frames();
  const std::vector<PhysAddr> all = take_all(pages, 0);
  EXPECT_EQ(all.size(), free0 + added - meta);
  give_all(pages, all, 0);
  pages.drain_cpu_caches();
  EXPECT_TRUE(Verified(pages));
  EXPECT_EQ(pages.counters().free_frames, free0 + added - meta);
}

// A hot-add larger than every range of its zone becomes the new table's
// main range (RangeLookup::main_*, found before any chunk). A copy of the
// table it replaced (as the slab layer keeps one) still answers every
// frame exactly: the old main range's through its fields, the added ones
// through the walk; so does the new table, the new main range's frames
// through its fields, the old main range's through its chunks.
TEST(HotAdd, ALargerAddBecomesTheMainRangeAndOldCopiesStayExact) {
  HotMachine m({test::usable(1 * MiB, 63 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const void* old = pages.lookup_table();
  ASSERT_EQ(pages.add_memory(PhysAddr{256 * MiB + 4 * KiB}, 256 * MiB - 4 * KiB), PF_OK);
  ASSERT_NE(pages.lookup_table(), old);
  EXPECT_TRUE(Verified(pages));
  const uint64_t end = frames_of(512 * MiB) + 2048;
  EXPECT_TRUE(test::DescriptorsExact(pages, 0, end));
  for (const void* table : {old, pages.lookup_table()})
    for (uint64_t p = 0; p < end; ++p) {
      const FrameDescriptor* got = PageAllocator::with_descriptor_in(
          table, [&]() { return &pages; }, Pfn{p}, [](FrameDescriptor* d) { return d; },
          []() { return static_cast<FrameDescriptor*>(nullptr); });
      ASSERT_EQ(got, pages.descriptor(Pfn{p})) << std::hex << "frame 0x" << p << (table == old ? " (old table)" : "");
    }
  // Pages of the new main range and of the old one out and back.
  const std::vector<PhysAddr> all = take_all(pages, 0);
  bool added = false, first = false;
  for (PhysAddr p : all) (p.value >= 256 * MiB ? added : first) = true;
  EXPECT_TRUE(added && first);
  give_all(pages, all, 0);
  pages.drain_cpu_caches();
  EXPECT_TRUE(Verified(pages));
}

TEST(HotAdd, TheSmallestRangeIsItsMetadataPlusOneFrame) {
  HotMachine m({test::usable(1 * MiB, 32 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t free0 = pages.counters().free_frames;
  // The smallest n with n > its metadata (descriptors and the lookup, 9
  // frames today: 11 KiB of direct entries, rows and hints, 24 KiB of split
  // entries for chunks one edge cuts): one frame short of it is refused, n
  // keeps one frame free.
  uint64_t n = 1;
  while (n <= meta_frames(n)) ++n;
  EXPECT_LE(n, 10u) << "the lookup table grew: hot-add metadata is no longer small";
  {
    test::LogCapture log;
    EXPECT_EQ(pages.add_memory(PhysAddr{64 * MiB}, (n - 1) * kFrameBytes), PF_ERR_HOTPLUG_TOO_SMALL);
  }
  ASSERT_EQ(pages.add_memory(PhysAddr{64 * MiB}, n * kFrameBytes), PF_OK);
  EXPECT_EQ(pages.hotplug_meta_frames(), n - 1);
  EXPECT_EQ(pages.counters().free_frames, free0 + 1);
  EXPECT_TRUE(Verified(pages));
}

TEST(HotAdd, TheTableTakesItsCapacityThenSaysSo) {
  HotMachine m({test::usable(1 * MiB, 32 * MiB)}, 1 * GiB);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const PageCounters before = pages.counters();
  const size_t left = pages.hotplug_ranges_left();
  ASSERT_EQ(left, PageAllocator::kMaxHotplugRanges);
  // Adjacent 64 KiB ranges from 64 MiB: each keeps `meta` frames for itself.
  const uint64_t step = 64 * KiB;
  const uint64_t meta = meta_frames(frames_of(step));
  for (size_t i = 0; i < left; ++i) {
    ASSERT_EQ(pages.add_memory(PhysAddr{64 * MiB + i * step}, step), PF_OK) << i;
    if (i % 32 == 31) { ASSERT_TRUE(Verified(pages)) << i; }
  }
  EXPECT_EQ(pages.hotplug_ranges_left(), 0u);
  const TableState full = TableState::of(pages);
  {
    test::LogCapture log;
    EXPECT_EQ(pages.add_memory(PhysAddr{512 * MiB}, 4 * MiB), PF_ERR_HOTPLUG_CAPACITY);
    EXPECT_NE(log.text().find("pfalloc: warning: hotplug-capacity"), std::string::npos);
  }
  expect_unchanged(full, pages, "capacity refusal");
  EXPECT_EQ(pages.hotplug_meta_frames(), left * meta);
  const uint64_t added = left * (frames_of(step) - meta);
  EXPECT_EQ(pages.counters().free_frames, before.free_frames + added);

  // Every frame of every range is found and handed out; blocks never span
  // two ranges, even adjacent ones, so a 64 KiB range yields order-3 blocks
  // at most, and a contiguous run is confined to one range.
  pages.drain_cpu_caches();
  const std::vector<PhysAddr> all = take_all(pages, 0);
  EXPECT_EQ(all.size(), before.free_frames + added);
  std::vector<PhysAddr> init_frames;
  size_t in_hot = 0;
  for (PhysAddr p : all) {
    if (p.value >= 64 * MiB) {
      ++in_hot;
      pages.free_pages(p, Order{0});
    } else {
      init_frames.push_back(p);
    }
  }
  EXPECT_EQ(in_hot, added);
  pages.drain_cpu_caches();
  ContigRequest req;
  req.flags = __GFP_NOWARN;
  EXPECT_TRUE(pages.alloc_contig(frames_of(step) - meta + 1, req).is_null()) << "no run spans two ranges";
  const PhysAddr run = pages.alloc_contig(frames_of(step) - meta, req);
  EXPECT_TRUE(inside(run, 64 * MiB, left * step));
  EXPECT_TRUE(Verified(pages));
  pages.free_contig(run, frames_of(step) - meta);
  give_all(pages, init_frames, 0);
  EXPECT_TRUE(Verified(pages));
  pages.drain_cpu_caches();
  EXPECT_EQ(pages.counters().free_frames, before.free_frames + added);
}

// A hot-add may open zones init never saw (the slots of their per-CPU caches
// come with it), and one crossing a zone limit becomes a range per zone.
TEST(HotAdd, OpensNewZonesAcrossTheirLimits) {
  HotMachine m({test::usable(1 * MiB, 14 * MiB)}, 4 * GiB + 64 * MiB, 2);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  ASSERT_EQ(pages.zone_counters(Zone::Normal).managed_frames, 0u);
  ASSERT_TRUE(pages.alloc_pages(Order{0}, GFP_DMA32 | __GFP_THISZONE | __GFP_NOWARN).is_null());
  const PageCounters before = pages.counters();
  const size_t ranges = pages.range_count();
  const uint64_t base = 4 * GiB - 8 * MiB, bytes = 16 * MiB, frames = frames_of(bytes);
  ASSERT_EQ(pages.add_memory(PhysAddr{base}, bytes), PF_OK);
  EXPECT_TRUE(Verified(pages));
  ASSERT_EQ(pages.range_count(), ranges + 2);
  EXPECT_EQ(pages.range_info(ranges).zone, Zone::Dma32);
  EXPECT_EQ(pages.range_info(ranges + 1).zone, Zone::Normal);
  const uint64_t meta = pages.hotplug_meta_frames();
  EXPECT_GT(meta, meta_frames(frames)) << "two zones' cache slots come with it";
  EXPECT_EQ(pages.counters().free_frames, before.free_frames + frames - meta);
  EXPECT_EQ(pages.zone_counters(Zone::Normal).managed_frames, frames / 2);
  EXPECT_EQ(pages.zone_counters(Zone::Dma32).managed_frames + meta, frames / 2);

  // The zone routes know them: Normal first, then DMA32; DMA stays DMA's.
  const PhysAddr normal = pages.alloc_pages(Order{0}, GFP_KERNEL);
  EXPECT_GE(normal.value, 4 * GiB);
  const PhysAddr dma32 = pages.alloc_pages(Order{2}, GFP_DMA32);
  EXPECT_TRUE(inside(dma32, base, 8 * MiB));
  const PhysAddr dma = pages.alloc_pages(Order{0}, GFP_DMA);
  EXPECT_LT(dma.value, 16 * MiB);
  char text[1024];
  TextBuffer t(text, sizeof text);
  pages.format_buddyinfo(t);
  EXPECT_NE(std::string(text).find("zone   Normal"), std::string::npos) << text;
  EXPECT_NE(std::string(text).find("zone    DMA32"), std::string::npos) << text;
  EXPECT_TRUE(Verified(pages));
  pages.free_pages(normal, Order{0});
  pages.free_pages(dma32, Order{2});
  pages.free_pages(dma, Order{0});
  const std::vector<PhysAddr> all = take_all(pages, 0);
  EXPECT_EQ(all.size(), before.free_frames + frames - meta);
  give_all(pages, all, 0);
  pages.drain_cpu_caches();
  EXPECT_TRUE(Verified(pages));
}

// ---- while others allocate --------------------------------------------------------

TEST(HotAddConcurrency, AddsWhileThreadsAllocateAndFree) {
  HotMachine m({test::usable(1 * MiB, 8 * MiB)}, 1 * GiB, 4);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t free0 = pages.counters().free_frames;
  constexpr int kThreads = 3, kAdds = 24;
  constexpr uint64_t kStep = 2 * MiB;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bad{0}, from_added{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(0x40ad + t);
      std::vector<std::pair<PhysAddr, unsigned>> held;
      while (!stop.load(std::memory_order_relaxed)) {
        if (held.size() < 256 && (rng() & 3) != 0) {
          const unsigned k = static_cast<unsigned>(rng() % 5);
          const PhysAddr p = pages.alloc_pages(Order{k}, __GFP_NOWARN);
          if (p.is_null()) continue;
          *m.memory().to_virt<uint64_t>(p) = p.value ^ 0x5a5a;
          from_added.fetch_add(p.value >= 64 * MiB, std::memory_order_relaxed);
          held.emplace_back(p, k);
        } else if (!held.empty()) {
          const size_t i = rng() % held.size();
          const auto [p, k] = held[i];
          if (*m.memory().to_virt<uint64_t>(p) != (p.value ^ 0x5a5a)) bad.fetch_add(1);
          pages.free_pages(p, Order{k});
          held[i] = held.back();
          held.pop_back();
        }
      }
      for (const auto& [p, k] : held) pages.free_pages(p, Order{k});
    });
  }
  // Init's memory is all DMA: the first add opens DMA32 (and brings every
  // CPU's cache slots for it) while the threads run.
  for (int i = 0; i < kAdds; ++i) {
    ASSERT_EQ(pages.add_memory(PhysAddr{64 * MiB + i * kStep}, kStep), PF_OK);
    if (i % 8 == 7) { EXPECT_TRUE(Verified(pages)); }
    std::this_thread::yield();
  }
  // Let the threads run on the grown memory for a while.
  for (int i = 0; i < 50 && from_added.load() < 1000; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  stop.store(true);
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0u);
  const uint64_t meta = pages.hotplug_meta_frames();
  EXPECT_GT(meta, kAdds * meta_frames(frames_of(kStep)));
  const uint64_t added = kAdds * frames_of(kStep) - meta;
  pages.drain_cpu_caches();
  EXPECT_TRUE(Verified(pages));
  EXPECT_EQ(pages.counters().free_frames, free0 + added);
}

}  // namespace
}  // namespace pf
