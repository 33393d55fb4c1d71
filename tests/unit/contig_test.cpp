// contig_test.cpp — alloc_contig/free_contig: any frame count, alignment,
// a boundary the range may not cross (64 KiB, as ISA DMA needs), a highest
// address, zone flags, __GFP_ZERO, exhaustion, the per-CPU-cache drain, and a
// seeded random workload. verify() after every step; every test leaves its
// machine as found.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::ErrorRecorder;
using test::LeaveAsFound;
using test::Machine;
using test::PageSnapshot;
using test::Verified;

using test::usable;

std::unique_ptr<Machine> dma32_machine(uint64_t bytes) {
  return std::make_unique<Machine>(std::initializer_list<Region>{usable(16 * MiB, bytes)});
}

struct Span {
  PhysAddr phys;
  uint64_t frames;
};

// Live ranges never overlap.
::testing::AssertionResult Disjoint(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.phys < b.phys; });
  for (size_t i = 1; i < spans.size(); ++i)
    if (spans[i - 1].phys.value + (spans[i - 1].frames << kPageShift) > spans[i].phys.value)
      return ::testing::AssertionFailure() << "ranges overlap at 0x" << std::hex << spans[i].phys.value;
  return ::testing::AssertionSuccess();
}

bool crosses(PhysAddr p, uint64_t frames, uint64_t boundary) {
  const uint64_t last = p.value + (frames << kPageShift) - 1;
  return boundary != 0 && (p.value / boundary) != (last / boundary);
}

// Every frame of the range is out of the buddy: each is a Tail or an
// Allocated head, and the heads tile the range.
::testing::AssertionResult Allocated(const PageAllocator& pages, PhysAddr p, uint64_t frames) {
  for (uint64_t i = 0; i < frames;) {
    const FrameDescriptor* d = pages.descriptor(to_pfn(p) + i);
    if (d == nullptr || frame_state(*d) != FrameState::Allocated)
      return ::testing::AssertionFailure() << "frame " << i << " of the range is not an allocated head";
    for (uint64_t t = 1; t < (uint64_t{1} << d->order); ++t)
      if (frame_state(*pages.descriptor(to_pfn(p) + i + t)) != FrameState::Tail)
        return ::testing::AssertionFailure() << "frame " << i + t << " is not a tail";
    i += uint64_t{1} << d->order;
    if (i > frames) return ::testing::AssertionFailure() << "a piece runs past the range";
  }
  return ::testing::AssertionSuccess();
}

TEST(Contig, AlignmentAndAnyFrameCount) {
  auto m = dma32_machine(64 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  pages.drain_cpu_caches();
  const PageSnapshot start = PageSnapshot::of(pages);
  for (uint64_t align : {4 * KiB, 64 * KiB, 2 * MiB}) {
    for (uint64_t n : {1, 2, 3, 5, 7, 16, 100, 1000, 1024, 1025, 1500, 3000}) {
      SCOPED_TRACE("frames " + std::to_string(n) + " align " + std::to_string(align));
      const PhysAddr p = pages.alloc_contig(n, {.align = align});
      ASSERT_FALSE(p.is_null());
      EXPECT_EQ(p.value % align, 0u);
      EXPECT_TRUE(Allocated(pages, p, n));
      EXPECT_EQ(pages.counters().free_frames, start.total.free_frames - n);
      ASSERT_TRUE(Verified(pages));
      pages.free_contig(p, n);
      ASSERT_TRUE(Verified(pages));
      pages.drain_cpu_caches();
      test::expect_same(start, PageSnapshot::of(pages), "freed range merged back");
    }
  }
}

TEST(Contig, NeverCrossesTheBoundary) {
  auto m = dma32_machine(32 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::mt19937_64 rng(64);
  std::vector<Span> live;
  // ISA DMA: 64 KiB. Random sizes up to the whole 16-frame window, so the
  // search must skip windows that straddle a multiple.
  for (int i = 0; i < 400; ++i) {
    const uint64_t n = 1 + rng() % 16;
    const PhysAddr p = pages.alloc_contig(n, {.boundary = 64 * KiB, .flags = __GFP_NOWARN});
    if (p.is_null()) break;
    ASSERT_FALSE(crosses(p, n, 64 * KiB)) << std::hex << p.value << " + " << std::dec << n;
    live.push_back({p, n});
    ASSERT_TRUE(Verified(pages));
  }
  EXPECT_GT(live.size(), 300u);
  EXPECT_TRUE(Disjoint(live));
  {
    ErrorRecorder rec;
    const PageSnapshot before = PageSnapshot::of(pages);
    EXPECT_TRUE(pages.alloc_contig(17, {.boundary = 64 * KiB, .flags = __GFP_NOWARN}).is_null())
        << "more frames than a boundary window holds";
    EXPECT_EQ(rec.count(), 0u) << "impossible is not misuse";
    test::expect_same(before, PageSnapshot::of(pages), "impossible request");
  }
  // Alignment and boundary together: 8 frames at 32 KiB alignment within 64 KiB.
  const PhysAddr q = pages.alloc_contig(8, {.align = 32 * KiB, .boundary = 64 * KiB});
  ASSERT_FALSE(q.is_null());
  EXPECT_EQ(q.value % (32 * KiB), 0u);
  EXPECT_FALSE(crosses(q, 8, 64 * KiB));
  live.push_back({q, 8});
  for (const Span& s : live) {
    pages.free_contig(s.phys, s.frames);
    ASSERT_TRUE(Verified(pages));
  }
}

TEST(Contig, HighestAddressAndZoneFlags) {
  auto m = std::make_unique<Machine>(std::initializer_list<Region>{
      usable(1 * MiB, 3 * GiB - 1 * MiB), usable(4 * GiB, 1 * GiB)});
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::vector<Span> live;
  auto take = [&](uint64_t n, ContigRequest r) {
    const PhysAddr p = pages.alloc_contig(n, r);
    if (!p.is_null()) live.push_back({p, n});
    return p;
  };
  const PhysAddr normal = take(100, {});
  EXPECT_GE(normal.value, 4 * GiB) << "no zone flag: Normal first";
  const PhysAddr dma32 = take(100, {.flags = GFP_DMA32});
  EXPECT_GE(dma32.value, kDmaLimit);
  EXPECT_LT(dma32.value + 100 * kPageSize, kDma32Limit + 1);
  const PhysAddr dma = take(100, {.flags = GFP_DMA});
  EXPECT_LT(dma.value + 100 * kPageSize, kDmaLimit + 1);
  const PhysAddr low = take(300, {.max_addr = 8 * MiB});
  ASSERT_FALSE(low.is_null());
  EXPECT_LE(low.value + 300 * kPageSize, 8 * MiB) << "max_addr: the range ends at or below it";
  const PhysAddr capped = take(50, {.align = 1 * MiB, .max_addr = 5 * GiB - 1});
  ASSERT_FALSE(capped.is_null());
  EXPECT_LE(capped.value + 50 * kPageSize, 5 * GiB - 1);
  EXPECT_TRUE(pages.alloc_contig(1, {.max_addr = 512 * KiB, .flags = __GFP_NOWARN}).is_null())
      << "no memory below 512 KiB";
  EXPECT_TRUE(pages.alloc_contig(2 * 1024, {.max_addr = 5 * MiB, .flags = __GFP_NOWARN}).is_null())
      << "8 MiB cannot end below 5 MiB";
  ASSERT_TRUE(Verified(pages));
  for (const Span& s : live) pages.free_contig(s.phys, s.frames);
}

TEST(Contig, ExhaustionReturnsNullAndChangesNothing) {
  auto m = dma32_machine(8 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const uint64_t free = pages.counters().free_frames;
  const PageSnapshot before = PageSnapshot::of(pages);
  EXPECT_TRUE(pages.alloc_contig(free + 1, {.flags = __GFP_NOWARN}).is_null());
  EXPECT_TRUE(pages.alloc_contig(free, {.align = 8 * MiB, .flags = __GFP_NOWARN}).is_null());
  test::expect_same(before, PageSnapshot::of(pages), "failed requests change nothing");
  // The whole free span is one run: all of it can be had at once.
  const PhysAddr all = pages.alloc_contig(free, {});
  ASSERT_FALSE(all.is_null());
  EXPECT_EQ(pages.counters().free_frames, 0u);
  ASSERT_TRUE(Verified(pages));
  pages.free_contig(all, free);
}

TEST(Contig, DrainsPerCpuCachesBeforeGivingUp) {
  auto m = dma32_machine(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const uint64_t free = pages.counters().free_frames;
  // One order-0 allocation refills this CPU's cache with a batch; freeing it
  // leaves the whole batch Cached, splitting the free span.
  const PhysAddr p = pages.alloc_pages(Order{0}, GFP_KERNEL);
  pages.free_pages(p, Order{0});
  ASSERT_EQ(pages.counters().cached_frames, PageAllocator::kPcpBatch[0]);
  const PhysAddr all = pages.alloc_contig(free, {});
  ASSERT_FALSE(all.is_null()) << "cached frames were drained and used";
  EXPECT_EQ(pages.counters().cached_frames, 0u);
  EXPECT_EQ(pages.counters().free_frames, 0u);
  ASSERT_TRUE(Verified(pages));
  pages.free_contig(all, free);
}

TEST(Contig, ZeroFlagZeroesTheRange) {
  auto m = dma32_machine(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const PhysAddr a = pages.alloc_contig(5, {});
  ASSERT_FALSE(a.is_null());
  std::memset(pages.to_virt(a), 0xc3, 5 * kPageSize);
  pages.free_contig(a, 5);
  const PhysAddr b = pages.alloc_contig(5, {.flags = __GFP_ZERO});
  ASSERT_EQ(b, a) << "first fit finds the same (dirty) frames";
  const auto* bytes = pages.to_virt<unsigned char>(b);
  size_t nonzero = 0;
  for (size_t i = 0; i < 5 * kPageSize; ++i) nonzero += bytes[i] != 0;
  EXPECT_EQ(nonzero, 0u);
  pages.free_contig(b, 5);
}

TEST(Contig, BadArgumentsAreReported) {
  auto m = dma32_machine(16 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const PageSnapshot before = PageSnapshot::of(pages);
  ErrorRecorder rec;
  test::LogCapture quiet;
  EXPECT_TRUE(pages.alloc_contig(0, {}).is_null());
  EXPECT_TRUE(pages.alloc_contig(1, {.align = 3 * kPageSize}).is_null());
  EXPECT_TRUE(pages.alloc_contig(1, {.align = 2048}).is_null());
  EXPECT_TRUE(pages.alloc_contig(1, {.boundary = 100 * KiB}).is_null());
  EXPECT_EQ(rec.count(), 4u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
  test::expect_same(before, PageSnapshot::of(pages), "refused requests change nothing");
}

TEST(Contig, RandomWorkloadKeepsEveryPromise) {
  const uint64_t seed = 0xc0471600;
  SCOPED_TRACE("seed " + std::to_string(seed));
  auto m = Machine::with_ram(48 * MiB);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::mt19937_64 rng(seed);
  struct Live {
    Span span;
    uint64_t tag;
  };
  std::vector<Live> live;
  for (int step = 0; step < 600; ++step) {
    if (live.empty() || rng() % 5 < 3) {
      const uint64_t n = 1 + rng() % (rng() % 4 == 0 ? 1500 : 40);
      const uint64_t align = kPageSize << (rng() % 6);
      const uint64_t boundary = (n <= 16 && rng() % 2 == 0) ? 64 * KiB : 0;
      const uint64_t max_addr = rng() % 4 == 0 ? 24 * MiB : 0;
      const gfp_t flags = (rng() % 5 == 0 ? GFP_DMA : GFP_KERNEL) | __GFP_NOWARN;
      const PhysAddr p = pages.alloc_contig(n, {.align = align, .boundary = boundary,
                                                .max_addr = max_addr, .flags = flags});
      if (p.is_null()) continue;
      ASSERT_EQ(p.value % align, 0u);
      ASSERT_FALSE(crosses(p, n, boundary));
      if (max_addr != 0) {
        ASSERT_LE(p.value + (n << kPageShift), max_addr);
      }
      if (flags & GFP_DMA) {
        ASSERT_LE(p.value + (n << kPageShift), kDmaLimit);
      }
      const uint64_t tag = rng();
      auto* words = pages.to_virt<uint64_t>(p);
      words[0] = tag;
      pages.to_virt<uint64_t>(p + ((n - 1) << kPageShift))[1] = tag;
      live.push_back({{p, n}, tag});
    } else {
      const size_t i = rng() % live.size();
      const Live l = live[i];
      ASSERT_EQ(pages.to_virt<uint64_t>(l.span.phys)[0], l.tag);
      ASSERT_EQ(pages.to_virt<uint64_t>(l.span.phys + ((l.span.frames - 1) << kPageShift))[1], l.tag);
      pages.free_contig(l.span.phys, l.span.frames);
      live[i] = live.back();
      live.pop_back();
    }
    ASSERT_TRUE(Verified(pages)) << "step " << step;
  }
  std::vector<Span> spans;
  for (const Live& l : live) spans.push_back(l.span);
  EXPECT_TRUE(Disjoint(spans));
  std::shuffle(live.begin(), live.end(), rng);
  for (const Live& l : live) {
    pages.free_contig(l.span.phys, l.span.frames);
    ASSERT_TRUE(Verified(pages));
  }
}

}  // namespace
}  // namespace pf
