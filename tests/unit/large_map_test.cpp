// large_map_test.cpp — a 256 GiB machine with holes, in the hosted build: the
// allocator initialises touching only its descriptor memory (mincore on the
// MAP_NORESERVE window), serves every zone, and verify() walks all of it.
// Prints descriptor bytes per frame and in total.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"

namespace pf {
namespace {

using test::LeaveAsFound;
using test::Machine;
using test::Verified;

using test::usable;

TEST(LargeMap, SparseMapOf256GiBInitialisesTouchingOnlyDescriptors) {
  // 256 GiB of RAM in five ranges, with the PCI hole below 4 GiB and holes
  // between the others, the last ending past 256 GiB.
  const std::initializer_list<Region> regions = {
      usable(0, 640 * KiB),
      usable(1 * MiB, 3 * GiB - 1 * MiB),
      Region{3 * GiB, 1 * GiB, RegionType::Reserved},
      usable(4 * GiB, 64 * GiB),
      usable(72 * GiB, 64 * GiB),
      Region{136 * GiB, 4 * GiB, RegionType::AcpiNvs},
      usable(140 * GiB, 64 * GiB),
      usable(208 * GiB, 61 * GiB + 1 * MiB),
  };
  uint64_t ram = 0;
  for (const Region& r : regions) ram += r.type == RegionType::Usable && r.base >= 1 * MiB ? r.length : 0;
  ASSERT_EQ(ram, 256 * GiB);

  Machine m(regions);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t resident = m.memory().resident_bytes();
  const PageCounters c = pages.counters();
  const uint64_t frames = c.managed_frames + c.reserved_frames;
  EXPECT_EQ(frames, ram >> kPageShift);
  EXPECT_EQ(pages.range_count(), 6u) << "cut at 16 MiB, then one range per RAM span";
  // Out-of-band descriptors: the window is touched only where bootmem put
  // metadata (descriptors and per-CPU caches), never in free frames.
  EXPECT_LE(resident, pages.bootmem_bytes() + 64 * KiB);
  EXPECT_LE(pages.bootmem_bytes(), pages.descriptor_bytes() + 1 * MiB);
  EXPECT_EQ(pages.descriptor_bytes(), frames * PageAllocator::descriptor_bytes_per_frame())
      << "every range's array is a whole number of frames here";
  std::printf("[ large map ] %" PRIu64 " GiB of RAM, %" PRIu64 " frames in %zu ranges\n", ram / GiB,
              frames, pages.range_count());
  std::printf("[ large map ] descriptors: %zu bytes per frame, %" PRIu64 " MiB in all (%.3f%% of RAM)\n",
              PageAllocator::descriptor_bytes_per_frame(), pages.descriptor_bytes() / MiB,
              100.0 * static_cast<double>(pages.descriptor_bytes()) / static_cast<double>(ram));
  std::printf("[ large map ] resident after init: %" PRIu64 " MiB of a %" PRIu64 " GiB window\n",
              resident / MiB, (m.memory().high() - m.memory().low()) / GiB);

  {
    LeaveAsFound guard(pages);
    std::vector<test::Block> held;
    for (gfp_t zone : {GFP_DMA, GFP_DMA32, GFP_KERNEL})
      for (unsigned k = 0; k <= kMaxOrder; ++k) {
        const PhysAddr p = pages.alloc_pages(Order{k}, zone | __GFP_THISZONE);
        ASSERT_FALSE(p.is_null());
        held.push_back({p, k});
      }
    EXPECT_GE(held.back().phys.value, 4 * GiB);
    const PhysAddr big = pages.alloc_contig(5000, {.align = 2 * MiB});
    ASSERT_FALSE(big.is_null());
    EXPECT_LE(m.memory().resident_bytes(), resident + 64 * KiB)
        << "allocating touches descriptors only";
    ASSERT_TRUE(Verified(pages));
    pages.free_contig(big, 5000);
    for (const auto& b : held) pages.free_pages(b.phys, Order{b.order});
  }
  EXPECT_LE(m.memory().resident_bytes(), resident + 64 * KiB);
}

}  // namespace
}  // namespace pf
