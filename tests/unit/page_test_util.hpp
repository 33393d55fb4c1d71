// page_test_util.hpp — helpers shared by the page-allocator suites: verify()
// as a gtest assertion (the VerifyFailed message is shown, never fatal), a
// snapshot of everything countable, a guard that checks a test left the
// allocator as it found it, and descriptor() checked frame by frame against
// the range table.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/support.hpp"

namespace pf {
// gtest prints counters by name (found by ADL, hence namespace pf).
inline std::ostream& operator<<(std::ostream& os, const PageCounters& c) {
  return os << "{managed " << c.managed_frames << ", free " << c.free_frames << ", cached "
            << c.cached_frames << ", reserved " << c.reserved_frames << "}";
}
}  // namespace pf

namespace pf::test {

// verify() with its report captured: EXPECT_TRUE(Verified(pages)).
inline ::testing::AssertionResult Verified(const PageAllocator& pages) {
  return VerifiedBy(pages, "verify()");
}

// Everything a test can count, for "nothing changed" comparisons.
struct PageSnapshot {
  PageCounters total;
  PageCounters zone[kZoneCount];
  uint64_t blocks[kZoneCount][kOrderCount] = {};
  std::string buddyinfo;

  static PageSnapshot of(const PageAllocator& pages) {
    PageSnapshot s;
    s.total = pages.counters();
    for (unsigned z = 0; z < kZoneCount; ++z) {
      s.zone[z] = pages.zone_counters(static_cast<Zone>(z));
      for (unsigned k = 0; k < kOrderCount; ++k)
        s.blocks[z][k] = pages.free_blocks(static_cast<Zone>(z), Order{k});
    }
    char buf[1024];
    TextBuffer t(buf, sizeof buf);
    pages.format_buddyinfo(t);
    s.buddyinfo = buf;
    return s;
  }
};

inline void expect_same(const PageSnapshot& a, const PageSnapshot& b, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(a.total, b.total);
  for (unsigned z = 0; z < kZoneCount; ++z) EXPECT_EQ(a.zone[z], b.zone[z]) << "zone " << z;
  EXPECT_EQ(a.buddyinfo, b.buddyinfo);
}

// Checks, when it goes out of scope, that the free-frame count (caches
// drained) is what it was when it was created, and that verify() is clean.
class LeaveAsFound {
 public:
  explicit LeaveAsFound(PageAllocator& pages) : pages_(pages) {
    pages_.drain_cpu_caches();
    free_ = pages_.counters().free_frames;
  }
  ~LeaveAsFound() {
    pages_.drain_cpu_caches();
    EXPECT_EQ(pages_.counters().free_frames, free_) << "the test did not give back every frame";
    EXPECT_TRUE(Verified(pages_));
  }
  LeaveAsFound(const LeaveAsFound&) = delete;
  LeaveAsFound& operator=(const LeaveAsFound&) = delete;

 private:
  PageAllocator& pages_;
  uint64_t free_ = 0;
};

struct Block {
  PhysAddr phys;
  unsigned order;
};

// Live blocks never overlap (sorted sweep).
inline ::testing::AssertionResult Disjoint(std::vector<Block> blocks) {
  std::sort(blocks.begin(), blocks.end(),
            [](const Block& a, const Block& b) { return a.phys < b.phys; });
  for (size_t i = 1; i < blocks.size(); ++i) {
    const uint64_t prev_end = blocks[i - 1].phys.value + (kPageSize << blocks[i - 1].order);
    if (prev_end > blocks[i].phys.value)
      return ::testing::AssertionFailure() << "blocks overlap at 0x" << std::hex << blocks[i].phys.value;
  }
  return ::testing::AssertionSuccess();
}

// descriptor(p) for every frame p in [from, to), against the range table
// read through range_info(): &descriptors[p - base] inside a range, nullptr
// in a hole or past the top. Fails at the first frame that differs.
inline ::testing::AssertionResult DescriptorsExact(const PageAllocator& pages, uint64_t from, uint64_t to) {
  const size_t n = pages.range_count();
  size_t i = 0;
  for (uint64_t p = from; p < to; ++p) {
    while (i < n && pages.range_info(i).end.value >> kPageShift <= p) ++i;
    const FrameDescriptor* want = nullptr;
    if (i < n) {
      const PageAllocator::RangeInfo r = pages.range_info(i);
      const uint64_t base = r.base.value >> kPageShift;
      if (p >= base) want = pages.to_virt<FrameDescriptor>(r.descriptors) + (p - base);
    }
    const FrameDescriptor* got = pages.descriptor(Pfn{p});
    if (got != want)
      return ::testing::AssertionFailure() << "descriptor(frame 0x" << std::hex << p << ") is " << got
                                           << ", the range table says " << want;
  }
  return ::testing::AssertionSuccess();
}

}  // namespace pf::test
