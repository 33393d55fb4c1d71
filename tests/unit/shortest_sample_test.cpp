// ShortestSample (kernel/arch/x86_64/timing.hpp): the boot clocks'
// calibration keeps the shortest of repeated windows, since a stalled vCPU
// only makes a window long. These are the sequences seen under load.
#include "kernel/arch/x86_64/timing.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace {

using pf::arch::ShortestSample;

// Feeds `values` until done(); returns how many were taken.
unsigned feed(ShortestSample& s, const std::vector<uint64_t>& values) {
  unsigned i = 0;
  while (!s.done() && i < values.size()) s.add(values[i++]);
  return i;
}

TEST(ShortestSample, AnUnloadedMachinePaysThreeWindows) {
  ShortestSample s;
  EXPECT_EQ(feed(s, {10398102, 10397986, 10399588, 10398000}), 3u);
  EXPECT_EQ(s.best, 10397986u);
}

// One boot under load (two cores, load 4): every one of five 4 ms
// countdowns came out long. Sampling goes on until two agree.
TEST(ShortestSample, LongWindowsAreOutlastedNotAveraged) {
  ShortestSample s;
  const unsigned taken =
      feed(s, {20861750, 20263162, 17053034, 20665934, 16506834, 10398036, 24370758, 10397824});
  EXPECT_TRUE(s.done());
  EXPECT_EQ(taken, 8u);
  EXPECT_EQ(s.best, 10397824u);
}

// A new shortest that agrees with the old one keeps the agreement; one
// well below it starts over.
TEST(ShortestSample, AgreementFollowsTheShortest) {
  ShortestSample s;
  s.add(20000000);
  s.add(20050000);  // within 0.5% of the shortest: two agree, but 3 are needed
  EXPECT_FALSE(s.done());
  s.add(10000000);  // far shorter: the old pair no longer counts
  EXPECT_EQ(s.agreeing, 1u);
  EXPECT_FALSE(s.done());
  s.add(9990000);   // shorter and within 0.5%: agrees
  EXPECT_TRUE(s.done());
  EXPECT_EQ(s.best, 9990000u);
}

TEST(ShortestSample, BoundedWhenNothingAgrees) {
  ShortestSample s;
  uint64_t v = 100000000;
  unsigned taken = 0;
  while (!s.done()) {
    s.add(v);
    v = v * 9 / 10;  // each window 10% shorter than the last: never two alike
    ++taken;
  }
  EXPECT_EQ(taken, ShortestSample::kMax);
  EXPECT_EQ(s.agreeing, 1u);
}

}  // namespace
