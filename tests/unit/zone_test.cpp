// zone_test.cpp — ZoneArea (kernel/mm/zone.hpp) on its own, without a
// PageAllocator: hand-built ranges over a descriptor array, the buddy's
// take (split of the smallest fitting block, across ranges) and give (merge,
// never across a range's edge), the frame counters, and check_counters(),
// verify()'s share, naming a disagreement.
#include <gtest/gtest.h>

#include <vector>

#include "kernel/mm/zone.hpp"

namespace pf {
namespace {

// Ranges of one zone over a zeroed descriptor array (every frame Tail).
struct ZoneFixture {
  std::vector<FrameDescriptor> desc;
  std::vector<Range> ranges;
  ZoneArea zone;

  // spans: {base, end} pairs in frames, ascending.
  explicit ZoneFixture(std::initializer_list<std::pair<uint64_t, uint64_t>> spans) {
    uint64_t frames = 0;
    for (auto [b, e] : spans) frames += e - b;
    desc.assign(frames, FrameDescriptor{});
    FrameDescriptor* d = desc.data();
    for (auto [b, e] : spans) {
      Range r;
      r.base = b;
      r.end = e;
      r.desc = d;
      r.zone = Zone::Dma32;
      for (uint32_t& h : r.head) h = kNoLink;
      ranges.push_back(r);
      d += e - b;
    }
    zone.assign(ranges.data(), 0, static_cast<uint32_t>(ranges.size()));
  }
  // Frees every range whole, as init does: one block per range here.
  void free_all() {
    LockGuard guard(zone.lock());
    for (Range& r : ranges) {
      zone.push(r, Pfn{r.base}, order_for(r.end - r.base));
      zone.add_managed(r.end - r.base);
    }
  }
  static Order order_for(uint64_t frames) {
    unsigned k = 0;
    while ((uint64_t{1} << (k + 1)) <= frames) ++k;
    return Order{k};
  }
  // What verify() would count: blocks on the lists and Free heads, per order.
  ZoneArea::Tally tally(uint64_t allocated) const {
    ZoneArea::Tally t;
    for (const Range& r : ranges) {
      t.frames += r.end - r.base;
      for (unsigned k = 0; k < kOrderCount; ++k)
        for (uint32_t i = r.head[k]; i != kNoLink; i = r.desc[i].link_next) ++t.listed[k];
      for (uint64_t i = 0; i < r.end - r.base; ++i)
        if (frame_state(r.desc[i]) == FrameState::Free) ++t.free_heads[r.desc[i].order];
    }
    t.allocated = allocated;
    return t;
  }
  uint64_t blocks_total() const {
    uint64_t n = 0;
    for (unsigned k = 0; k < kOrderCount; ++k) n += zone.blocks(Order{k});
    return n;
  }
};

TEST(ZoneArea, TakeSplitsAndGiveMergesBack) {
  ZoneFixture f({{64, 128}});
  f.free_all();
  EXPECT_EQ(f.zone.managed(), 64u);
  EXPECT_EQ(f.zone.free_buddy(), 64u);
  EXPECT_EQ(f.zone.check_counters(f.tally(0)), nullptr);

  LockGuard guard(f.zone.lock());
  const ZoneArea::Block b = f.zone.take(Order{0}, FrameState::Allocated);
  ASSERT_NE(b.range, nullptr);
  EXPECT_EQ(b.pfn, Pfn{64});  // the lower half is kept at every split
  EXPECT_EQ(frame_state(b.range->at(b.pfn)), FrameState::Allocated);
  EXPECT_EQ(f.zone.free_buddy(), 63u);
  for (unsigned k = 0; k < 6; ++k) EXPECT_EQ(f.zone.blocks(Order{k}), 1u) << "order " << k;
  EXPECT_EQ(f.zone.blocks(Order{6}), 0u);
  EXPECT_EQ(f.zone.check_counters(f.tally(1)), nullptr);
  // A tally that lost the allocated frame is caught, by name.
  const char* wrong = f.zone.check_counters(f.tally(0));
  ASSERT_NE(wrong, nullptr);
  EXPECT_STREQ(wrong, "free + allocated != managed");

  f.zone.give(*b.range, b.pfn, Order{0});
  EXPECT_EQ(f.zone.free_buddy(), 64u);
  EXPECT_EQ(f.zone.blocks(Order{6}), 1u);
  EXPECT_EQ(f.blocks_total(), 1u);
  EXPECT_EQ(frame_state(f.ranges[0].at(Pfn{64})), FrameState::Free);
  EXPECT_EQ(frame_state(f.ranges[0].at(Pfn{96})), FrameState::Tail);
  EXPECT_EQ(f.zone.check_counters(f.tally(0)), nullptr);
}

TEST(ZoneArea, TakeUsesTheSmallestBlockOfAnyRange) {
  // Range 0 holds an order-4 block, range 1 an order-1 block: an order-0
  // request splits the order-1 one, leaving the large block whole.
  ZoneFixture f({{16, 32}, {64, 66}});
  f.free_all();
  LockGuard guard(f.zone.lock());
  const ZoneArea::Block b = f.zone.take(Order{0}, FrameState::Cached);
  ASSERT_EQ(b.range, &f.ranges[1]);
  EXPECT_EQ(b.pfn, Pfn{64});
  EXPECT_EQ(f.zone.blocks(Order{4}), 1u);
  EXPECT_EQ(f.zone.blocks(Order{0}), 1u);
  f.zone.give(*b.range, b.pfn, Order{0});
  EXPECT_EQ(f.zone.blocks(Order{1}), 1u);
  EXPECT_EQ(f.zone.check_counters(f.tally(0)), nullptr);
}

TEST(ZoneArea, GiveNeverMergesAcrossARangeEdge) {
  // Frames 80..95 are another range's: the order-4 block at 64 has its buddy
  // at 80, outside its range, so it stays order 4.
  ZoneFixture f({{64, 80}, {80, 96}});
  f.free_all();
  EXPECT_EQ(f.zone.blocks(Order{4}), 2u);
  LockGuard guard(f.zone.lock());
  const ZoneArea::Block b = f.zone.take(Order{4}, FrameState::Allocated);
  ASSERT_NE(b.range, nullptr);
  f.zone.give(*b.range, b.pfn, Order{4});
  EXPECT_EQ(f.zone.blocks(Order{4}), 2u);
  EXPECT_EQ(f.zone.blocks(Order{5}), 0u);
  EXPECT_EQ(f.zone.check_counters(f.tally(0)), nullptr);
}

TEST(ZoneArea, EmptyZoneAndExhaustion) {
  ZoneArea none;
  none.assign(nullptr, 0, 0);
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.take(Order{0}, FrameState::Allocated).range, nullptr);

  ZoneFixture f({{8, 10}});
  f.free_all();
  LockGuard guard(f.zone.lock());
  EXPECT_EQ(f.zone.take(Order{2}, FrameState::Allocated).range, nullptr);  // larger than any block
  const ZoneArea::Block a = f.zone.take(Order{0}, FrameState::Allocated);
  const ZoneArea::Block b = f.zone.take(Order{0}, FrameState::Allocated);
  ASSERT_NE(a.range, nullptr);
  ASSERT_NE(b.range, nullptr);
  EXPECT_NE(a.pfn, b.pfn);
  EXPECT_EQ(f.zone.take(Order{0}, FrameState::Allocated).range, nullptr);
  EXPECT_EQ(f.zone.free_buddy(), 0u);
  EXPECT_EQ(f.zone.check_counters(f.tally(2)), nullptr);
  f.zone.give(*b.range, b.pfn, Order{0});
  f.zone.give(*a.range, a.pfn, Order{0});
  EXPECT_EQ(f.zone.blocks(Order{1}), 1u);
  EXPECT_EQ(f.zone.check_counters(f.tally(0)), nullptr);
}

TEST(ZoneArea, ReservedFramesBecomeManaged) {
  ZoneFixture f({{32, 48}});
  f.zone.add_reserved(16);
  ZoneArea::Tally t = f.tally(0);
  t.reserved = 16;
  EXPECT_EQ(f.zone.check_counters(t), nullptr);
  f.zone.reserved_to_managed(16);
  EXPECT_EQ(f.zone.reserved(), 0u);
  EXPECT_EQ(f.zone.managed(), 16u);
  // Managed but on no list and not allocated: the zone's counters say so.
  EXPECT_NE(f.zone.check_counters(f.tally(0)), nullptr);
  LockGuard guard(f.zone.lock());
  f.zone.give(f.ranges[0], Pfn{32}, Order{4});
  EXPECT_EQ(f.zone.check_counters(f.tally(0)), nullptr);
}

}  // namespace
}  // namespace pf
