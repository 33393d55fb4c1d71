// slab_concurrency_test.cpp — the slab layer under threads: cross-thread
// frees through the per-CPU arrays, caches shrunk, counted and verified while
// others allocate. Run by `make test-tsan` (suite names contain "Stress" or
// "Concurren"), with fewer operations there.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"

namespace pf {
namespace {

using test::kUnderTsan;
// Operations over all threads.
constexpr uint64_t kStressOps = kUnderTsan ? 120'000 : 1'200'000;

using test::check_pattern;
using test::fill_pattern;

// Objects handed from one thread to another, to be freed there.
struct Mailbox {
  std::mutex lock;
  std::vector<std::pair<void*, size_t>> items;
};

class SlabStress : public test::SlabFixture {
 protected:
  uint64_t ram_bytes() const override { return 256 * MiB; }
};

TEST_F(SlabStress, CrossThreadFreesKeepEveryObjectAndEveryFrame) {
  constexpr unsigned kThreads = 6;  // more threads than CPUs: slots are shared
  KmemCache* shared = slab_.cache_create("stress-shared", 136, 0, 0, nullptr);
  ASSERT_NE(shared, nullptr);
  Mailbox boxes[kThreads];
  std::atomic<uint64_t> failures{0};
  std::atomic<unsigned> done{0};
  const uint64_t seed = 0x57e55ull;

  auto worker = [&](unsigned me) {
    hosted::set_this_thread_cpu(me);  // two threads per CPU slot for some
    std::mt19937_64 rng(seed + me);
    std::vector<std::pair<void*, size_t>> mine;  // size 0: from `shared`
    auto release = [&](void* p, size_t size) {
      const size_t n = size == 0 ? 136 : size;
      if (!check_pattern(p, n, reinterpret_cast<uintptr_t>(p))) failures.fetch_add(1);
      if (size == 0) slab_.cache_free(shared, p); else slab_.kfree(p);
    };
    const uint64_t ops = kStressOps / kThreads;
    for (uint64_t i = 0; i < ops; ++i) {
      const unsigned op = rng() % 16;
      if (op < 7 || mine.empty()) {
        size_t size = op % 4 == 0 ? 0 : 1 + rng() % (rng() % 16 == 0 ? 9000 : 600);
        void* p = size == 0 ? slab_.cache_alloc(shared, GFP_KERNEL) : slab_.kmalloc(size, GFP_KERNEL);
        if (p == nullptr) {
          failures.fetch_add(1);
          continue;
        }
        fill_pattern(p, size == 0 ? 136 : size, reinterpret_cast<uintptr_t>(p));
        mine.push_back({p, size});
      } else if (op < 11) {
        const size_t k = rng() % mine.size();
        release(mine[k].first, mine[k].second);
        mine[k] = mine.back();
        mine.pop_back();
      } else if (op < 14) {
        // Hand one to another thread: it frees it on its own CPU.
        const size_t k = rng() % mine.size();
        Mailbox& box = boxes[(me + 1 + rng() % (kThreads - 1)) % kThreads];
        {
          std::lock_guard<std::mutex> g(box.lock);
          box.items.push_back(mine[k]);
        }
        mine[k] = mine.back();
        mine.pop_back();
      } else {
        std::vector<std::pair<void*, size_t>> got;
        {
          std::lock_guard<std::mutex> g(boxes[me].lock);
          got.swap(boxes[me].items);
        }
        for (auto [p, size] : got) release(p, size);
      }
      // Keep the live set bounded.
      while (mine.size() > 2000) {
        release(mine.back().first, mine.back().second);
        mine.pop_back();
      }
    }
    for (auto [p, size] : mine) release(p, size);
    done.fetch_add(1);
    // Drain the mailbox until every thread has stopped handing things over.
    for (;;) {
      const bool last = done.load() == kThreads;
      std::vector<std::pair<void*, size_t>> got;
      {
        std::lock_guard<std::mutex> g(boxes[me].lock);
        got.swap(boxes[me].items);
      }
      for (auto [p, size] : got) release(p, size);
      if (last) break;
      std::this_thread::yield();
    }
  };

  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  for (auto& b : boxes) {  // a hand-over after its owner's last look
    for (auto [p, size] : b.items) {
      if (size == 0) slab_.cache_free(shared, p); else slab_.kfree(p);
    }
  }

  EXPECT_EQ(failures.load(), 0u) << "seed " << seed;
  ASSERT_TRUE(Clean()) << "seed " << seed;
  EXPECT_EQ(slab_.stats(shared).active_objects, 0u);
  for (size_t i = 0; i < kKmallocClassCount; ++i)
    EXPECT_EQ(slab_.stats(slab_.kmalloc_cache(i)).active_objects, 0u) << kKmallocSizes[i];
  EXPECT_EQ(slab_.cache_destroy(shared), 0u);
  // The fixture checks the frame counts exactly.
}

class SlabConcurrency : public test::SlabFixture {};

TEST_F(SlabConcurrency, ShrinkStatsAndVerifyWhileOthersAllocate) {
  constexpr unsigned kWorkers = 3;
  KmemCache* c = slab_.cache_create("concurrent", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> failures{0};
  const uint64_t rounds = kUnderTsan ? 2'000 : 20'000;
  auto worker = [&](unsigned me) {
    hosted::set_this_thread_cpu(me);
    std::mt19937_64 rng(me);
    std::vector<void*> held;
    for (uint64_t i = 0; i < rounds; ++i) {
      if (rng() % 2 == 0 || held.empty()) {
        void* p = slab_.cache_alloc(c, GFP_KERNEL);
        if (p == nullptr) { failures.fetch_add(1); continue; }
        fill_pattern(p, 64, reinterpret_cast<uintptr_t>(p));
        held.push_back(p);
      } else {
        void* p = held.back();
        held.pop_back();
        if (!check_pattern(p, 64, reinterpret_cast<uintptr_t>(p))) failures.fetch_add(1);
        slab_.cache_free(c, p);
      }
    }
    for (void* p : held) slab_.cache_free(c, p);
  };
  std::thread observer([&] {
    hosted::set_this_thread_cpu(kWorkers);
    char buf[8192];
    while (!stop.load()) {
      slab_.cache_shrink(c);  // drains other CPUs' arrays under their locks
      TextBuffer t(buf, sizeof buf);
      slab_.format_slabinfo(t);
      const CacheStats st = slab_.stats(c);
      if (st.active_objects > st.total_objects) failures.fetch_add(1);
      if (!slab_.verify()) failures.fetch_add(1);
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < kWorkers; ++t) workers.emplace_back(worker, t);
  for (auto& t : workers) t.join();
  stop = true;
  observer.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabConcurrency, CachesCreatedAndDestroyedFromSeveralThreads) {
  constexpr unsigned kThreads = 4;
  const unsigned rounds = kUnderTsan ? 30 : 200;
  std::atomic<uint64_t> failures{0};
  auto worker = [&](unsigned me) {
    hosted::set_this_thread_cpu(me);
    for (unsigned r = 0; r < rounds; ++r) {
      char name[32];
      std::snprintf(name, sizeof name, "t%u-r%u", me, r);
      KmemCache* c = slab_.cache_create(name, 16 + 8 * ((me + r) % 40), 0, 0, nullptr);
      if (c == nullptr) { failures.fetch_add(1); continue; }
      void* objs[20];
      for (void*& p : objs) p = slab_.cache_alloc(c, GFP_KERNEL);
      for (void* p : objs) slab_.cache_free(c, p);
      if (slab_.cache_destroy(c) != 0) failures.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < kThreads; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_EQ(slab_.cache_count(), 2 + kKmallocClassCount);
}

}  // namespace
}  // namespace pf
