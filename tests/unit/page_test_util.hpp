// page_test_util.hpp — helpers shared by the page-allocator suites: verify()
// as a gtest assertion (the VerifyFailed message is shown, never fatal), a
// snapshot of everything countable, and a guard that checks a test left the
// allocator as it found it.
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

}  // namespace pf::test
