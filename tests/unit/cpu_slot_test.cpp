// cpu_slot_test.cpp — the hosted build's CPU slots (hosted/platform.cpp):
// a slot has one owner at a time, a thread gives its slot back when it
// exits, and a thread without a slot is served, correctly, by each
// instance's shared cache (index cpu_count) instead of a per-CPU one.
// Every test ends on slot 0 for the main thread, where the others expect it.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/pfalloc.h"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"

namespace pf {
namespace {

using test::LeaveAsFound;
using test::Machine;

TEST(CpuSlot, ASlotHasOneOwnerAtATime) {
  ASSERT_TRUE(hosted::set_this_thread_cpu(5));
  EXPECT_EQ(pfalloc_hook_cpu_id(), 5u);
  std::thread other([] {
    EXPECT_FALSE(hosted::set_this_thread_cpu(5)) << "slot 5 is the main thread's";
    EXPECT_EQ(pfalloc_hook_cpu_id(), PF_NO_CPU);
  });
  other.join();
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
}

TEST(CpuSlot, AThreadGivesItsSlotBackWhenItExits) {
  std::thread t([] { EXPECT_TRUE(hosted::set_this_thread_cpu(7)); });
  t.join();
  EXPECT_TRUE(hosted::set_this_thread_cpu(7)) << "the exited thread still holds slot 7";
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
}

TEST(CpuSlot, ThreadsWithoutASlotUseTheSharedCache) {
  auto m = Machine::with_ram(32 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  std::thread t([&] {
    ASSERT_FALSE(hosted::set_this_thread_cpu(0));  // taken: no slot at all
    std::vector<PhysAddr> held;
    for (int round = 0; round < 3; ++round) {
      for (unsigned i = 0; i < 200; ++i) held.push_back(pages.alloc_pages(Order{i % 2}, GFP_KERNEL));
      for (size_t i = 0; i < held.size(); ++i) pages.free_pages(held[i], Order{static_cast<unsigned>(i % 2)});
      held.clear();
    }
  });
  t.join();
  // The frees went to the shared cache, not to CPU 0's or CPU 1's.
  const uint64_t cached = pages.counters().cached_frames;
  EXPECT_GT(cached, 0u);
  pages.drain_cpu_cache(0);
  pages.drain_cpu_cache(1);
  EXPECT_EQ(pages.counters().cached_frames, cached);
  pages.drain_cpu_cache(2);  // the shared one
  EXPECT_EQ(pages.counters().cached_frames, 0u);
}

}  // namespace
}  // namespace pf
