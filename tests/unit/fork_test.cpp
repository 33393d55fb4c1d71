// fork_test.cpp — fork support (SlabAllocator/PageAllocator::fork_prepare and
// fork_release, behind pf_fork_prepare/parent/child): a real fork() in a
// process whose other threads allocate and free pages and objects without
// pause. The child (one thread) allocates, frees and verifies both layers
// and exits 0 only if everything held; the parent goes on, and ends clean.
// Not under ThreadSanitizer (fork in a threaded process is outside what it
// models), so no name here matches TSAN_FILTER.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::Machine;
using test::Verified;

// Runs in the child: exit status 0 only if every step held. No gtest here
// (the child's results would be lost); a broken invariant is fatal anyway.
[[noreturn]] void child_body(PageAllocator& pages, SlabAllocator& slab) {
  int status = 0;
  std::vector<void*> objects;
  for (int i = 0; i < 2000; ++i) {
    const size_t size = 8u << (i % 11);  // 8 B .. 8 KiB
    void* p = slab.kmalloc(size, GFP_KERNEL);
    if (p == nullptr) {
      status = 2;
      break;
    }
    std::memset(p, i & 0xff, size);
    objects.push_back(p);
  }
  std::vector<std::pair<PhysAddr, unsigned>> blocks;
  for (unsigned k = 0; k <= 5; ++k)
    for (int i = 0; i < 16; ++i) {
      const PhysAddr p = pages.alloc_pages(Order{k}, GFP_KERNEL);
      if (p.is_null()) {
        status = 3;
        break;
      }
      blocks.emplace_back(p, k);
    }
  if (!pages.verify() || !slab.verify()) status = 4;
  for (void* p : objects) slab.kfree(p);
  for (const auto& [p, k] : blocks) pages.free_pages(p, Order{k});
  // The other threads' CPU slots are gone with them; their caches are whole
  // and can be drained and checked from here.
  slab.shrink_all();
  pages.drain_cpu_caches();
  if (!pages.verify() || !slab.verify()) status = 5;
  _exit(status);
}

TEST(Fork, ChildOfABusyProcessAllocatesFreesAndVerifies) {
  auto machine = Machine::with_ram(64 * MiB, 4);
  ASSERT_TRUE(machine->ok());
  PageAllocator& pages = machine->pages();
  SlabAllocator slab;
  ASSERT_EQ(slab.init(pages, SlabConfig{.cpu_count = 4}), PF_OK);
  slab.shrink_all();
  pages.drain_cpu_caches();
  const uint64_t free0 = pages.counters().free_frames;

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> ops{0};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937 rng(0xf0 + t);
      std::vector<void*> objs;
      std::vector<std::pair<PhysAddr, unsigned>> blocks;
      while (!stop.load(std::memory_order_relaxed)) {
        if (objs.size() < 512 && (rng() & 1)) {
          if (void* p = slab.kmalloc(16 + rng() % 3000, __GFP_NOWARN)) objs.push_back(p);
        } else if (!objs.empty()) {
          slab.kfree(objs.back());
          objs.pop_back();
        }
        if (blocks.size() < 64 && (rng() & 3) == 0) {
          const unsigned k = rng() % 4;
          const PhysAddr p = pages.alloc_pages(Order{k}, __GFP_NOWARN);
          if (!p.is_null()) blocks.emplace_back(p, k);
        } else if (!blocks.empty() && (rng() & 3) == 0) {
          pages.free_pages(blocks.back().first, Order{blocks.back().second});
          blocks.pop_back();
        }
        ops.fetch_add(1, std::memory_order_relaxed);
      }
      for (void* p : objs) slab.kfree(p);
      for (const auto& [p, k] : blocks) pages.free_pages(p, Order{k});
    });
  }

  for (int round = 0; round < 8; ++round) {
    const uint64_t seen = ops.load();
    while (ops.load() < seen + 2000) std::this_thread::yield();  // the workers are mid-stream
    std::fflush(nullptr);  // the child must not print the parent's buffered output again
    slab.fork_prepare();
    const pid_t pid = fork();
    if (pid == 0) {
      slab.fork_release();
      child_body(pages, slab);
    }
    slab.fork_release();
    ASSERT_GT(pid, 0) << std::strerror(errno);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status)) << "round " << round << ": child died, status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0) << "round " << round;
  }
  stop.store(true);
  for (std::thread& w : workers) w.join();
  EXPECT_TRUE(test::VerifiedBy(slab, "slab verify()"));
  slab.shrink_all();
  pages.drain_cpu_caches();
  EXPECT_TRUE(Verified(pages));
  EXPECT_EQ(pages.counters().free_frames, free0);
  EXPECT_EQ(slab.teardown(), 0u);
}

// prepare and release leave nothing held: every path still works after
// them, a second prepare does not wait on the first, and verify is clean.
TEST(Fork, PrepareAndReleaseLeaveEveryLockFree) {
  auto machine = Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(machine->ok());
  PageAllocator& pages = machine->pages();
  SlabAllocator slab;
  ASSERT_EQ(slab.init(pages, SlabConfig{.cpu_count = 2}), PF_OK);
  for (int i = 0; i < 3; ++i) {
    slab.fork_prepare();
    slab.fork_release();
  }
  pages.fork_prepare();
  pages.fork_release();
  void* p = slab.kmalloc(100, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  const PhysAddr b = pages.alloc_pages(Order{5}, GFP_KERNEL);
  ASSERT_FALSE(b.is_null());
  {
    test::LogCapture quiet;
    EXPECT_EQ(pages.add_memory(PhysAddr{b.value}, kPageSize * 4), PF_ERR_HOTPLUG_OVERLAP)
        << "the hot-add lock is free again";
  }
  EXPECT_TRUE(Verified(pages));
  EXPECT_TRUE(test::VerifiedBy(slab, "slab verify()"));
  slab.kfree(p);
  pages.free_pages(b, Order{5});
  slab.shrink_all();
  EXPECT_EQ(slab.teardown(), 0u);
}

}  // namespace
}  // namespace pf
