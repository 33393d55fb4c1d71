// slab_fixture.hpp — what the slab suites share: a Machine with a
// SlabAllocator on it, and the rule every slab test keeps, checked in
// TearDown:
//   1. verify() of the slab layer and of the buddy is clean;
//   2. after shrink_all() (per-CPU arrays drained, every empty slab given
//      back), the buddy's free count equals the count right after init, so
//      the test's caches and objects left nothing behind;
//   3. after teardown() (no live objects found), the free count equals the
//      count before init: the slab layer returns every frame it took.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf::test {

// verify() with its report captured, as a gtest assertion.
inline ::testing::AssertionResult SlabVerified(const SlabAllocator& slab) {
  return VerifiedBy(slab, "slab verify()");
}

class SlabFixture : public ::testing::Test {
 protected:
  static constexpr uint64_t kDefaultRam = 64 * MiB;
  static constexpr unsigned kCpus = 4;

  // Suites may override before SetUp runs (e.g. a small machine).
  virtual uint64_t ram_bytes() const { return kDefaultRam; }
  virtual SlabConfig slab_config() const { return SlabConfig{.cpu_count = kCpus}; }

  void SetUp() override {
    machine_ = Machine::with_ram(ram_bytes(), kCpus);
    ASSERT_TRUE(machine_->ok());
    before_init_ = machine_->free_frames();
    ASSERT_EQ(slab_.init(pages(), slab_config()), PF_OK);
    ASSERT_TRUE(SlabVerified(slab_));
    slab_.shrink_all();
    after_init_ = machine_->free_frames();
  }

  void TearDown() override {
    if (!slab_.initialised()) return;
    EXPECT_TRUE(SlabVerified(slab_));
    slab_.shrink_all();
    EXPECT_TRUE(SlabVerified(slab_));
    EXPECT_TRUE(Verified(pages()));
    EXPECT_EQ(machine_->free_frames(), after_init_)
        << "frames left behind by the test's caches or objects";
    EXPECT_EQ(slab_.teardown(), 0u) << "live objects at teardown";
    EXPECT_TRUE(Verified(pages()));
    EXPECT_EQ(machine_->free_frames(), before_init_) << "frames kept by the slab layer";
  }

  // verify() of both layers, as one assertion for use after every step.
  ::testing::AssertionResult Clean() const {
    auto s = SlabVerified(slab_);
    if (!s) return s;
    return Verified(machine_->pages());
  }

  PageAllocator& pages() { return machine_->pages(); }
  uint64_t free_frames() const { return machine_->free_frames(); }

  std::unique_ptr<Machine> machine_;
  SlabAllocator slab_;
  uint64_t before_init_ = 0;
  uint64_t after_init_ = 0;
};

// Fills [p, p + n) with a pattern derived from `seed`, and checks it.
inline void fill_pattern(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>((seed * 131 + i * 7) ^ (seed >> 8));
}
inline bool check_pattern(const void* p, size_t n, uint64_t seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>((seed * 131 + i * 7) ^ (seed >> 8))) return false;
  return true;
}

}  // namespace pf::test
