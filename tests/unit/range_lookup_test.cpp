// range_lookup_test.cpp — the pfn -> descriptor lookup every free starts with
// (PageAllocator::descriptor, page_alloc.hpp RangeLookup): one load for a
// frame in a chunk that lies inside one range (a direct entry), the range
// walk for a chunk that holds a range boundary or a hole (a mixed chunk),
// but for a chunk one edge cuts (a split: the direct entry of each side).
// Checked frame by frame against the range table on a QEMU/E820-like map
// whose holes fall inside chunks (the 640 KiB hole, a reserved run a few
// frames long, a one-frame gap between two usable entries, a top that is not
// chunk-aligned); frames in holes, past the top and far beyond the lookup's
// reach are nullptr. Then every frame of the map is handed out and freed
// once (frees in mixed chunks take free_slow, the rest the fast path), a
// free in a hole inside a mixed chunk is still refused by name, and the
// allocator is left as found with verify() clean (which checks every direct
// entry against its range). Hot-add's share (new tables, new mixed chunks)
// is in hotadd_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::DescriptorsExact;
using test::Verified;

constexpr uint64_t frames_of(uint64_t bytes) { return bytes >> kPageShift; }

// ~600 MiB with its top near 600 MiB: chunks of 256 frames (1 MiB), so the
// reserved run at 16 MiB + 8 KiB and the one-frame gap at 300 MiB + 4 KiB
// each make their chunk mixed, and so does the top; the 16 MiB zone limit
// falls on a chunk boundary. (The map keeps the first 1 MiB, with the
// 640 KiB hole, reserved: that chunk is mixed, and empty.)
const Region kMap[] = {
    {.base = 0, .length = 0x9f000, .type = RegionType::Usable},
    {.base = 0x9f000, .length = 0x61000, .type = RegionType::Reserved},
    {.base = 1 * MiB, .length = 15 * MiB + 8 * KiB, .type = RegionType::Usable},
    {.base = 16 * MiB + 8 * KiB, .length = 32 * KiB, .type = RegionType::Reserved},
    {.base = 16 * MiB + 40 * KiB, .length = 284 * MiB - 36 * KiB, .type = RegionType::Usable},
    {.base = 300 * MiB + 8 * KiB, .length = 300 * MiB + 12 * KiB, .type = RegionType::Usable},
};
constexpr uint64_t kTop = 600 * MiB + 20 * KiB;

TEST(RangeLookup, EveryFrameOfAMapWithHolesInsideChunks) {
  test::Machine m(std::span<const Region>(kMap), {}, {.cpu_count = 2});
  ASSERT_TRUE(m.ok());
  const PageAllocator& pages = m.pages();
  EXPECT_TRUE(Verified(pages));
  // Every frame from 0 to well past the top: in a range, in a hole, beyond.
  EXPECT_TRUE(DescriptorsExact(pages, 0, frames_of(kTop) + 4 * 256));
  // The holes and the edges, named (DescriptorsExact says the same; these
  // say which frames the map means).
  EXPECT_EQ(pages.descriptor(Pfn{0}), nullptr) << "frame 0 is never managed";
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(0x9f000)}), nullptr) << "640 KiB hole";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(1 * MiB)}), nullptr);
  EXPECT_NE(pages.descriptor(Pfn{frames_of(16 * MiB + 4 * KiB)}), nullptr) << "DMA32's first 2 frames";
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(16 * MiB + 8 * KiB)}), nullptr) << "reserved run";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(16 * MiB + 40 * KiB)}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(300 * MiB + 4 * KiB)}), nullptr) << "one-frame gap";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(kTop) - 1}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(kTop)}), nullptr) << "the top";
  EXPECT_EQ(pages.descriptor(Pfn{uint64_t{1} << 39}), nullptr) << "beyond the lookup's reach";
  EXPECT_EQ(pages.descriptor(Pfn{~uint64_t{0} >> kPageShift}), nullptr);
}

// Chunks one edge cuts (RangeLookup::split_*): ~200 MiB, chunks of 64
// frames (256 KiB); the first range starts 3 frames into its chunk (a hole
// below the edge, the range above), the top ends 7 frames into its chunk
// (the range below, nothing above), and a one-frame gap cuts a chunk twice
// (the walk). Every frame around them resolves exactly, through the split
// entries where one edge cuts the chunk; verify() checks each split entry
// against its range. (Two ranges meeting inside a chunk: hotadd_test.cpp.)
const Region kSplitMap[] = {
    {.base = 1 * MiB + 12 * KiB, .length = 99 * MiB - 4 * KiB, .type = RegionType::Usable},
    {.base = 100 * MiB + 12 * KiB, .length = 100 * MiB + 16 * KiB, .type = RegionType::Usable},
};
constexpr uint64_t kSplitTop = 200 * MiB + 28 * KiB;

TEST(RangeLookup, EveryFrameOfAMapWhoseEdgesCutChunksOnce) {
  test::Machine m(std::span<const Region>(kSplitMap), {}, {.cpu_count = 2});
  ASSERT_TRUE(m.ok());
  const PageAllocator& pages = m.pages();
  EXPECT_TRUE(Verified(pages));
  EXPECT_TRUE(DescriptorsExact(pages, 0, frames_of(kSplitTop) + 4 * 64));
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(1 * MiB + 8 * KiB)}), nullptr) << "below the first range, same chunk";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(1 * MiB + 12 * KiB)}), nullptr) << "the first range's first frame";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(kSplitTop) - 1}), nullptr) << "the top frame";
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(kSplitTop)}), nullptr) << "past the top, same chunk";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(100 * MiB + 4 * KiB)}), nullptr);
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(100 * MiB + 8 * KiB)}), nullptr) << "the one-frame gap";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(100 * MiB + 12 * KiB)}), nullptr);
}

// The main range (RangeLookup::main_*, found before any chunk): the
// largest range of the highest zone with memory, here the small Normal one
// above 4 GiB rather than the larger DMA32 one. Every frame resolves the
// same through it and through the chunks (its edges and the frames around
// them, a foreign frame far below and above it), through the published
// table as the slab layer's copy reads it; pages of both zones go out and
// come back through the page frees' fast path (the main range's without
// any chunk entry), and verify() checks the main range's fields.
const Region kTwoZoneMap[] = {
    {.base = 1 * MiB, .length = 3 * GiB - 1 * MiB, .type = RegionType::Usable},
    {.base = 4 * GiB + 8 * KiB, .length = 512 * MiB - 12 * KiB, .type = RegionType::Usable},
};
constexpr uint64_t kTwoZoneTop = 4 * GiB + 512 * MiB - 4 * KiB;

TEST(RangeLookup, TheMainRangeAndEveryOtherFrameResolveAlike) {
  test::Machine m(std::span<const Region>(kTwoZoneMap), {}, {.cpu_count = 2});
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  EXPECT_TRUE(Verified(pages));
  // Around every edge: the DMA32 range's top, the gap up to 4 GiB, the
  // Normal range's (main) first and last frames, and beyond.
  EXPECT_TRUE(DescriptorsExact(pages, frames_of(3 * GiB) - 4096, frames_of(4 * GiB) + 4096));
  EXPECT_TRUE(DescriptorsExact(pages, frames_of(kTwoZoneTop) - 4096, frames_of(kTwoZoneTop) + 4096));
  EXPECT_TRUE(DescriptorsExact(pages, 0, 4096));
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(4 * GiB + 4 * KiB)}), nullptr) << "one frame below the main range";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(4 * GiB + 8 * KiB)}), nullptr) << "its first frame";
  EXPECT_NE(pages.descriptor(Pfn{frames_of(kTwoZoneTop) - 1}), nullptr) << "its last frame";
  EXPECT_EQ(pages.descriptor(Pfn{frames_of(kTwoZoneTop)}), nullptr) << "its end";
  EXPECT_EQ(pages.descriptor(Pfn{~uint64_t{0} >> kPageShift}), nullptr) << "the highest frame number there is";
  // The slab layer's way in: a copy of the published table, any address.
  const void* table = pages.lookup_table();
  auto through_copy = [&](uint64_t pfn) {
    return PageAllocator::with_descriptor_in(
        table, [&]() { return &pages; }, Pfn{pfn}, [](FrameDescriptor* d) { return d; },
        []() { return static_cast<FrameDescriptor*>(nullptr); });
  };
  for (uint64_t pfn : {uint64_t{0}, frames_of(1 * MiB), frames_of(3 * GiB) - 1, frames_of(3 * GiB),
                       frames_of(4 * GiB + 4 * KiB), frames_of(4 * GiB + 8 * KiB), frames_of(kTwoZoneTop) - 1,
                       frames_of(kTwoZoneTop), uint64_t{1} << 39, ~uint64_t{0} >> kPageShift})
    EXPECT_EQ(through_copy(pfn), pages.descriptor(Pfn{pfn})) << std::hex << pfn;

  // Pages of both zones out and back: Normal's (GFP_KERNEL) through the
  // main range, DMA32's through their chunks; then double frees by name.
  const test::PageSnapshot before = test::PageSnapshot::of(pages);
  std::vector<PhysAddr> out;
  for (const gfp_t zone : {gfp_t{GFP_KERNEL}, gfp_t{GFP_DMA32 | __GFP_THISZONE}})
    for (int i = 0; i < 3000; ++i) {
      const PhysAddr p = pages.alloc_pages(Order{0}, zone | __GFP_NOWARN);
      ASSERT_FALSE(p.is_null());
      out.push_back(p);
    }
  EXPECT_GE(out.front().value, 4 * GiB);
  EXPECT_LT(out.back().value, 4 * GiB);
  for (PhysAddr p : out) pages.free_pages(p, Order{0});
  {
    test::ErrorRecorder rec;
    pages.free_pages(out.front(), Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageDoubleFree);
    pages.free_pages(out.back(), Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageDoubleFree);
    pages.free_pages(PhysAddr{4 * GiB + 4 * KiB}, Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageOutsideManaged);
    pages.free_pages(PhysAddr{kTwoZoneTop}, Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageOutsideManaged);
    EXPECT_EQ(rec.count(), 4u);
  }
  pages.drain_cpu_caches();
  EXPECT_EQ(test::PageSnapshot::of(pages).total, before.total);
  EXPECT_TRUE(Verified(pages));
}

TEST(RangeLookup, EveryFrameIsHandedOutAndFreedOnceWhateverItsChunk) {
  test::Machine m(std::span<const Region>(kMap), {}, {.cpu_count = 2});
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const test::PageSnapshot before = test::PageSnapshot::of(pages);
  // Zone by zone, so DMA's frames (all in mixed or low chunks) come too.
  std::vector<PhysAddr> all;
  for (const gfp_t zone : {gfp_t{GFP_KERNEL}, gfp_t{GFP_DMA}}) {
    for (;;) {
      const PhysAddr p = pages.alloc_pages(Order{0}, zone | __GFP_NOWARN);
      if (p.is_null()) break;
      ASSERT_EQ(pages.descriptor(Pfn{p.value >> kPageShift}) != nullptr, true);
      all.push_back(p);
    }
  }
  EXPECT_EQ(all.size(), before.total.free_frames);
  // Frames of the mixed chunks (1 MiB each here) were handed out too (how
  // many depends on where bootmem put the descriptors).
  std::vector<PhysAddr> in_mixed;
  for (PhysAddr p : all) {
    const uint64_t chunk = p.value >> 20;
    if (chunk == 16 || chunk == 300 || chunk == 600) in_mixed.push_back(p);
  }
  ASSERT_FALSE(in_mixed.empty());
  EXPECT_TRUE(Verified(pages));
  {
    test::ErrorRecorder rec;
    pages.free_pages(PhysAddr{16 * MiB + 16 * KiB}, Order{0});  // the reserved run, inside a mixed chunk
    EXPECT_EQ(rec.last_code(), ErrorCode::PageOutsideManaged);
    pages.free_pages(PhysAddr{300 * MiB + 4 * KiB}, Order{0});  // the one-frame gap
    EXPECT_EQ(rec.last_code(), ErrorCode::PageOutsideManaged);
    pages.free_pages(PhysAddr{kTop}, Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageOutsideManaged);
    EXPECT_EQ(rec.count(), 3u);
  }
  for (PhysAddr p : all) pages.free_pages(p, Order{0});
  {
    // A second free of a frame in a mixed chunk and of one in a direct
    // chunk: both double frees, by name.
    test::ErrorRecorder rec;
    pages.free_pages(in_mixed.front(), Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageDoubleFree);
    pages.free_pages(all.front(), Order{0});
    EXPECT_EQ(rec.last_code(), ErrorCode::PageDoubleFree);
    EXPECT_EQ(rec.count(), 2u);
  }
  pages.drain_cpu_caches();
  EXPECT_TRUE(Verified(pages));
  test::expect_same(before, test::PageSnapshot::of(pages), "after every frame went out and back");
}

}  // namespace
}  // namespace pf
