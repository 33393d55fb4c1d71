// page_concurrency_test.cpp — the page allocator from many threads (each a
// CPU slot in the hosted build): allocation and free, frees of pages another
// thread allocated (handed over through a queue), exhaustion under
// contention, contiguous allocation beside page traffic, and verify() running
// concurrently. Each ends with the caches drained, verify() clean and the
// exact free count it began with. Run under ThreadSanitizer by `make
// test-tsan` (the suite name contains "Concurren").
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::LeaveAsFound;
using test::Machine;
using test::Verified;

// Every block carries a tag in its first word: the owner checks it at free,
// so a block handed to two owners at once shows up as a changed tag.
struct Tagged {
  PhysAddr phys;
  unsigned order;
  uint64_t tag;
};

class HandOff {
 public:
  void push(const Tagged& t) {
    std::lock_guard<std::mutex> g(mu_);
    q_.push_back(t);
  }
  bool pop(Tagged& out) {
    std::lock_guard<std::mutex> g(mu_);
    if (q_.empty()) return false;
    out = q_.front();
    q_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::deque<Tagged> q_;
};

constexpr uint64_t kSeed = 0x7e57;
constexpr int kThreads = 4;
constexpr int kSteps = 6000;

TEST(PageConcurrency, ThreadsAllocateFreeAndFreeEachOthersPages) {
  SCOPED_TRACE("seed " + std::to_string(kSeed));
  auto m = Machine::with_ram(64 * MiB, 4);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  HandOff queue;
  std::atomic<uint64_t> bad_tags{0}, bad_alignment{0}, allocations{0}, foreign_frees{0};

  auto worker = [&](int id) {
    std::mt19937_64 rng(kSeed + static_cast<uint64_t>(id));
    std::vector<Tagged> live;
    auto release = [&](const Tagged& t) {
      if (*pages.to_virt<uint64_t>(t.phys) != t.tag) bad_tags.fetch_add(1);
      pages.free_pages(t.phys, Order{t.order});
    };
    for (int step = 0; step < kSteps; ++step) {
      const unsigned r = static_cast<unsigned>(rng() % 10);
      if (r < 5 || live.empty()) {
        const unsigned k = rng() % 8 == 0 ? static_cast<unsigned>(4 + rng() % 3) : static_cast<unsigned>(rng() % 4);
        const gfp_t flags = (rng() % 4 == 0 ? GFP_DMA : GFP_KERNEL) | __GFP_NOWARN;
        const PhysAddr p = pages.alloc_pages(Order{k}, flags);
        if (p.is_null()) continue;
        allocations.fetch_add(1, std::memory_order_relaxed);
        if (!block_aligned(to_pfn(p), Order{k})) bad_alignment.fetch_add(1);
        const uint64_t tag = rng() | 1;
        *pages.to_virt<uint64_t>(p) = tag;
        live.push_back({p, k, tag});
      } else if (r < 8) {
        const size_t i = rng() % live.size();
        release(live[i]);
        live[i] = live.back();
        live.pop_back();
      } else if (r == 8) {
        const size_t i = rng() % live.size();
        queue.push(live[i]);
        live[i] = live.back();
        live.pop_back();
      } else {
        Tagged t;
        if (queue.pop(t)) {
          release(t);
          foreign_frees.fetch_add(1, std::memory_order_relaxed);
        }
      }
    }
    for (const Tagged& t : live) release(t);
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(worker, i);
  for (auto& t : threads) t.join();
  for (Tagged t; queue.pop(t);) pages.free_pages(t.phys, Order{t.order});

  EXPECT_EQ(bad_tags.load(), 0u) << "a block was handed to two owners";
  EXPECT_EQ(bad_alignment.load(), 0u);
  EXPECT_GT(allocations.load(), uint64_t{kThreads} * kSteps / 3);
  EXPECT_GT(foreign_frees.load(), 100u);
  EXPECT_TRUE(Verified(pages));
}

TEST(PageConcurrency, ExhaustionUnderContentionLosesNothing) {
  // Fewer caches than threads: threads share CPU slots and their locks.
  auto m = Machine::with_ram(4 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  const uint64_t managed = pages.counters().managed_frames;
  std::vector<std::vector<Tagged>> held(kThreads);
  std::atomic<int> ready{0};

  auto grab = [&](int id) {
    std::mt19937_64 rng(kSeed * 3 + static_cast<uint64_t>(id));
    ready.fetch_add(1);
    while (ready.load() < kThreads) std::this_thread::yield();
    for (;;) {
      const unsigned k = static_cast<unsigned>(rng() % 3);
      PhysAddr p = pages.alloc_pages(Order{k}, __GFP_NOWARN);
      unsigned got = k;
      if (p.is_null()) {
        p = pages.alloc_pages(Order{0}, __GFP_NOWARN);
        got = 0;
      }
      if (p.is_null()) break;
      held[static_cast<size_t>(id)].push_back({p, got, p.value});
      *pages.to_virt<uint64_t>(p) = p.value;
    }
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back(grab, i);
  for (auto& t : threads) t.join();

  uint64_t frames = 0;
  std::vector<test::Block> all;
  for (const auto& v : held)
    for (const Tagged& t : v) {
      frames += uint64_t{1} << t.order;
      all.push_back({t.phys, t.order});
      EXPECT_EQ(*pages.to_virt<uint64_t>(t.phys), t.tag);
    }
  EXPECT_EQ(frames, managed) << "every frame was handed out exactly once";
  EXPECT_EQ(pages.counters().free_frames, 0u);
  EXPECT_TRUE(test::Disjoint(all));
  EXPECT_TRUE(Verified(pages));

  // Free crosswise: thread i frees what thread i+1 took.
  threads.clear();
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      for (const Tagged& t : held[static_cast<size_t>((i + 1) % kThreads)]) pages.free_pages(t.phys, Order{t.order});
    });
  for (auto& t : threads) t.join();
}

TEST(PageConcurrency, ContiguousBesidePageTrafficWithConcurrentVerify) {
  auto m = Machine::with_ram(32 * MiB, 4);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> contig_ok{0}, verify_runs{0}, violations{0};

  std::thread verifier([&] {
    // verify() takes every lock, so it sees a consistent allocator even now.
    do {
      if (!pages.verify()) violations.fetch_add(1);
      verify_runs.fetch_add(1);
      std::this_thread::yield();
    } while (!stop.load());
  });
  std::thread contig([&] {
    std::mt19937_64 rng(kSeed * 5);
    std::vector<std::pair<PhysAddr, uint64_t>> live;
    // Runs until the verifier has overlapped it several times.
    for (int i = 0; i < 1500 || verify_runs.load() < 5; ++i) {
      if (live.size() < 8 && rng() % 2 == 0) {
        const uint64_t n = 1 + rng() % 16;
        const PhysAddr p = pages.alloc_contig(n, {.boundary = 64 * KiB, .flags = __GFP_NOWARN});
        if (p.is_null()) continue;
        if ((p.value >> 16) != ((p.value + (n << kPageShift) - 1) >> 16)) violations.fetch_add(1);
        live.push_back({p, n});
        contig_ok.fetch_add(1);
      } else if (!live.empty()) {
        pages.free_contig(live.back().first, live.back().second);
        live.pop_back();
      }
    }
    for (auto& [p, n] : live) pages.free_contig(p, n);
  });
  std::vector<std::thread> workers;
  for (int id = 0; id < 2; ++id)
    workers.emplace_back([&, id] {
      std::mt19937_64 rng(kSeed * 7 + static_cast<uint64_t>(id));
      std::vector<test::Block> live;
      for (int i = 0; i < kSteps; ++i) {
        if (live.size() < 64 && rng() % 2 == 0) {
          const unsigned k = static_cast<unsigned>(rng() % 5);
          const PhysAddr p = pages.alloc_pages(Order{k}, __GFP_NOWARN);
          if (!p.is_null()) live.push_back({p, k});
        } else if (!live.empty()) {
          pages.free_pages(live.back().phys, Order{live.back().order});
          live.pop_back();
        }
      }
      for (const auto& b : live) pages.free_pages(b.phys, Order{b.order});
    });
  for (auto& t : workers) t.join();
  contig.join();
  stop.store(true);
  verifier.join();
  EXPECT_EQ(violations.load(), 0u);
  EXPECT_GT(contig_ok.load(), 100u);
  EXPECT_GE(verify_runs.load(), 5u);
  EXPECT_TRUE(Verified(pages));
}

TEST(PageConcurrency, DrainFromAnotherThreadWhileTheOwnerAllocates) {
  auto m = Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  LeaveAsFound guard(pages);
  std::atomic<bool> stop{false};
  std::thread drainer([&] {
    while (!stop.load()) {
      pages.drain_cpu_cache(0);
      pages.drain_cpu_cache(1);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (int id = 0; id < 2; ++id)
    workers.emplace_back([&] {
      std::vector<PhysAddr> live;
      for (int i = 0; i < kSteps; ++i) {
        if (live.size() < 100 && (i / 50) % 2 == 0) {
          const PhysAddr p = pages.alloc_pages(Order{0}, __GFP_NOWARN);
          if (!p.is_null()) live.push_back(p);
        } else if (!live.empty()) {
          pages.free_pages(live.back(), Order{0});
          live.pop_back();
        }
      }
      for (PhysAddr p : live) pages.free_pages(p, Order{0});
    });
  for (auto& t : workers) t.join();
  stop.store(true);
  drainer.join();
  EXPECT_TRUE(Verified(pages));
}

}  // namespace
}  // namespace pf
