// cpu_slot_test.cpp — the hosted build's CPU slots (hosted/platform.cpp):
// a slot has one owner at a time, a thread gives its slot back when it
// exits, and a thread without a slot is served, correctly, by each
// instance's shared cache (index cpu_count) instead of a per-CPU one.
// Every test ends on slot 0 for the main thread, where the others expect it.
// And the default slot count of the LD_PRELOAD shim (hosted/cpu_slots.hpp)
// on machines unlike this one, faked through its inputs: the affinity mask
// as sched_getaffinity(2) answers it, and PFALLOC_CPUS.
#include <gtest/gtest.h>

#include <cerrno>
#include <thread>
#include <vector>

#include "hosted/cpu_slots.hpp"
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

// ---- the default slot count: default_cpu_slots ---------------------------

// The shim's buffer: 16 longs, 1024 CPUs.
constexpr unsigned kWords = 16;
struct Mask {
  unsigned long w[kWords] = {};
  void set(unsigned cpu) { w[cpu / 64] |= 1ul << (cpu % 64); }
  // What the kernel answers for a machine of nr_cpu_ids possible CPUs: its
  // mask in whole longs.
  static long answer_for(unsigned nr_cpu_ids) { return (nr_cpu_ids + 63) / 64 * 8; }
};
unsigned slots(const Mask& m, long answer, uint64_t env = 0) {
  return hosted::default_cpu_slots(m.w, answer, kWords, env);
}
Mask first_cpus(unsigned n) {
  Mask m;
  for (unsigned c = 0; c < n; ++c) m.set(c);
  return m;
}

TEST(CpuSlotCount, TwiceTheCpusOfTheMaskAtLeastFourAtMostKMaxCpus) {
  EXPECT_EQ(slots(first_cpus(1), Mask::answer_for(1)), 4u);  // a 1-CPU container
  EXPECT_EQ(slots(first_cpus(2), Mask::answer_for(2)), 4u);  // this 2-core VM
  EXPECT_EQ(slots(first_cpus(3), Mask::answer_for(4)), 6u);
  EXPECT_EQ(slots(first_cpus(16), Mask::answer_for(16)), 32u);
  EXPECT_EQ(slots(first_cpus(32), Mask::answer_for(32)), kMaxCpus);
  EXPECT_EQ(slots(first_cpus(64), Mask::answer_for(64)), kMaxCpus);  // a 64-core box
  // More CPUs than kMaxCpus, over several words of the mask.
  EXPECT_EQ(slots(first_cpus(256), Mask::answer_for(256)), kMaxCpus);
  EXPECT_EQ(slots(first_cpus(1024), Mask::answer_for(1024)), kMaxCpus);
}

TEST(CpuSlotCount, AMaskSmallerThanTheMachineCountsItsCpusWhereverTheyAre) {
  // taskset -c 1 on a 2-CPU machine: one CPU, not "CPU number 1, so 2".
  Mask only1;
  only1.set(1);
  EXPECT_EQ(slots(only1, Mask::answer_for(2)), 4u);
  // A cpuset of CPUs 4-7 of a 64-CPU machine (sysconf would say 64).
  Mask four;
  for (unsigned c = 4; c < 8; ++c) four.set(c);
  EXPECT_EQ(slots(four, Mask::answer_for(64)), 8u);
  // A sparse cpuset on a 512-CPU machine: CPUs 100, 200, 300, 400, 511.
  Mask sparse;
  for (unsigned c : {100u, 200u, 300u, 400u, 511u}) sparse.set(c);
  EXPECT_EQ(slots(sparse, Mask::answer_for(512)), 10u);
  // 20 CPUs at the far end of a 1024-CPU mask.
  Mask far;
  for (unsigned c = 1004; c < 1024; ++c) far.set(c);
  EXPECT_EQ(slots(far, Mask::answer_for(1024)), 40u);
}

TEST(CpuSlotCount, OnlyTheWordsTheKernelWroteCount) {
  // A 64-CPU machine writes one long; what lies beyond it in the buffer is not
  // part of the answer (the shim zeroes it, but the count must not rely on it).
  Mask m = first_cpus(2);
  m.w[1] = m.w[5] = ~0ul;
  EXPECT_EQ(slots(m, Mask::answer_for(64)), 4u);
  // An answer past the buffer (which a kernel never gives) reads the buffer only.
  EXPECT_EQ(slots(first_cpus(8), 4096), 16u);
  // An empty mask cannot run anything: read as one CPU.
  EXPECT_EQ(slots(Mask{}, Mask::answer_for(8)), 4u);
}

TEST(CpuSlotCount, AnUnreadableMaskGivesEverySlot) {
  // More than 1024 possible CPUs: the kernel refuses the shim's buffer (EINVAL).
  // The machine is larger than any mask it could have read: every slot, not the
  // minimum of four (what the shim once gave a 4096-CPU machine).
  EXPECT_EQ(slots(Mask{}, -EINVAL), kMaxCpus);
  // The syscall filtered (seccomp), or any other failure: nothing is known.
  EXPECT_EQ(slots(Mask{}, -EPERM), kMaxCpus);
  EXPECT_EQ(slots(Mask{}, -ENOSYS), kMaxCpus);
}

TEST(CpuSlotCount, PfallocCpusOverridesTheMaskUpToKMaxCpus) {
  EXPECT_EQ(slots(first_cpus(64), Mask::answer_for(64), 1), 1u);
  EXPECT_EQ(slots(first_cpus(1), Mask::answer_for(1), 3), 3u);
  EXPECT_EQ(slots(first_cpus(1), Mask::answer_for(1), 64), 64u);
  EXPECT_EQ(slots(first_cpus(1), Mask::answer_for(1), 65), kMaxCpus);
  EXPECT_EQ(slots(first_cpus(1), Mask::answer_for(1), uint64_t{1} << 40), kMaxCpus);
  EXPECT_EQ(slots(Mask{}, -EINVAL, 2), 2u);
}

}  // namespace
}  // namespace pf
