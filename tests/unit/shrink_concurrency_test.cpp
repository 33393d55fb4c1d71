// shrink_concurrency_test.cpp — issue 11, case 10: shrink_all (pf_reclaim)
// no longer holds the cache-list lock across the shrinks. It walks the list
// taking the lock only to step, each cache pinned while it is shrunk, so
// caches can be created and destroyed meanwhile (a destroy of the cache
// being shrunk waits for the walker to step past it).
//
//   - Reclaim beside create/destroy/allocation: threads create caches,
//     allocate and free in them and destroy them, while others run
//     shrink_all and cache_shrink in a loop; verify() clean and every frame
//     back (SlabFixture's TearDown).
//   - The list lock is not held during a shrink, shown by what one can
//     observe: while shrink_all is in the middle of many caches (the free
//     frame count has started to rise and rises further after), another
//     thread creates and destroys a cache, and that completes before the
//     walk ends. With the lock held for the whole walk, the create could
//     only complete once every cache had been shrunk.
// Named "Concurrency" so `make test-tsan` runs them.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"

namespace pf {
namespace {

using test::kUnderTsan;

class ShrinkConcurrency : public test::SlabFixture {
 protected:
  uint64_t ram_bytes() const override { return 128 * MiB; }
};

TEST_F(ShrinkConcurrency, ReclaimBesideCreateDestroyAndAllocation) {
  constexpr unsigned kWorkers = 3;
  const int rounds = kUnderTsan ? 40 : 300;
  std::atomic<unsigned> done{0};
  std::atomic<uint64_t> failures{0}, shrinks{0}, destroyed{0};

  auto worker = [&](unsigned me) {
    hosted::set_this_thread_cpu(1 + me);
    std::mt19937_64 rng(0x5412ull + me);
    // At least `rounds`, and on until the shrinkers have overlapped a while.
    for (int round = 0; round < rounds || shrinks.load() < 40; ++round) {
      const std::string name = "w" + std::to_string(me) + "-" + std::to_string(round);
      const size_t size = 16 + rng() % 2000;
      KmemCache* c = slab_.cache_create(name.c_str(), size, 0, 0, nullptr);
      if (c == nullptr) {
        failures.fetch_add(1);
        continue;
      }
      std::vector<void*> objs;
      const size_t n = 1 + rng() % 200;
      for (size_t i = 0; i < n; ++i) {
        if (void* p = slab_.cache_alloc(c, GFP_KERNEL)) objs.push_back(p); else failures.fetch_add(1);
        if (void* k = slab_.kmalloc(1 + rng() % 512, GFP_KERNEL)) slab_.kfree(k); else failures.fetch_add(1);
      }
      for (void* p : objs) slab_.cache_free(c, p);
      if (slab_.cache_destroy(c) != 0) failures.fetch_add(1);
      destroyed.fetch_add(1);
    }
    done.fetch_add(1);
  };
  auto shrinker = [&](unsigned cpu, bool all) {
    hosted::set_this_thread_cpu(cpu);
    while (done.load() < kWorkers) {
      if (all) slab_.shrink_all(); else slab_.cache_shrink(slab_.kmalloc_cache(3));
      shrinks.fetch_add(1);
    }
  };
  std::vector<std::thread> threads;
  for (unsigned i = 0; i < kWorkers; ++i) threads.emplace_back(worker, i);
  threads.emplace_back(shrinker, 0u, true);
  threads.emplace_back(shrinker, 3u, false);
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0u);
  EXPECT_GE(destroyed.load(), uint64_t{kWorkers} * rounds);
  EXPECT_GE(shrinks.load(), 40u);
  EXPECT_TRUE(test::SlabVerified(slab_));
  EXPECT_TRUE(test::Verified(pages()));
}

TEST_F(ShrinkConcurrency, AnotherCacheIsDestroyedWhileShrinkAllIsMidway) {
  // Many caches, each holding its reserve of empty slabs (64 frames for
  // these), so a shrink_all takes a while and frees frames as it goes.
  const unsigned fillers = kUnderTsan ? 40 : 120;
  constexpr size_t kObj = 1024;
  std::vector<KmemCache*> caches;
  auto fill = [&] {
    for (KmemCache* c : caches) {
      std::vector<void*> objs;
      for (int i = 0; i < 320; ++i)
        if (void* p = slab_.cache_alloc(c, GFP_KERNEL)) objs.push_back(p);
      for (void* p : objs) slab_.cache_free(c, p);
    }
  };
  for (unsigned i = 0; i < fillers; ++i) {
    KmemCache* c = slab_.cache_create(("filler-" + std::to_string(i)).c_str(), kObj, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    caches.push_back(c);
  }
  constexpr uint64_t kMargin = 128;  // two fillers' worth of frames
  int successes = 0, attempts = 0;
  for (; attempts < 10 && successes == 0; ++attempts) {
    fill();
    const uint64_t start = machine_->free_frames();
    std::atomic<bool> walking{false}, finished{false};
    std::vector<uint64_t> seen;  // the free count after each create + destroy
    std::atomic<uint64_t> rounds{0};
    std::thread shrinker([&] {
      hosted::set_this_thread_cpu(1);
      // Start once the other thread is busy creating and destroying.
      while (rounds.load() < 2) std::this_thread::yield();
      walking.store(true);
      slab_.shrink_all();
      finished.store(true);
    });
    std::thread other([&] {
      hosted::set_this_thread_cpu(2);
      for (; !finished.load(); rounds.fetch_add(1)) {
        KmemCache* c = slab_.cache_create("short-lived", 200, 0, 0, nullptr);
        if (c == nullptr) return;
        void* p = slab_.cache_alloc(c, GFP_KERNEL);
        slab_.cache_free(c, p);
        slab_.cache_destroy(c);
        if (walking.load()) seen.push_back(machine_->free_frames());
        // Paced, so the walk (which stops this CPU for every cache it
        // drains) is not starved of the gate locks both take.
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
    });
    shrinker.join();
    other.join();
    const uint64_t final = machine_->free_frames();
    // Midway: the walk had freed frames before this create + destroy was
    // done, and freed more after it.
    uint64_t midway = 0;
    for (uint64_t f : seen) midway += f >= start + kMargin && f + kMargin <= final;
    successes += midway != 0;
    std::printf("[ shrink ] attempt %d: the walk freed %llu frames; %zu create+destroy done meanwhile, "
                "%llu of them midway\n",
                attempts, static_cast<unsigned long long>(final - start), seen.size(),
                static_cast<unsigned long long>(midway));
    ASSERT_GE(final, start + fillers * 32) << "the fillers' empty slabs were not given back";
  }
  EXPECT_GT(successes, 0) << "in " << attempts
                          << " attempts, no cache_create + cache_destroy completed while shrink_all was midway";
  for (KmemCache* c : caches) EXPECT_EQ(slab_.cache_destroy(c), 0u);
  EXPECT_TRUE(test::SlabVerified(slab_));
}

// A handle used while it goes away: two destroys of one cache, or a destroy
// and a shrink, at the same moment on two CPUs. One destroy wins; the other
// call is refused by name (invalid-argument) or, a shrink that came first,
// waited for: never a read of the arrays the destroy frees (both crashed).
TEST_F(ShrinkConcurrency, DestroyRacingDestroyOrShrinkIsRefusedByName) {
  struct Counts {
    std::atomic<unsigned> invalid{0}, other{0};
  } counts;
  const ErrorHandlerSlot old = set_error_handler(
      [](const ErrorReport& r, void* ctx) {
        auto* c = static_cast<Counts*>(ctx);
        (r.code == ErrorCode::InvalidArgument ? c->invalid : c->other).fetch_add(1);
      },
      &counts);
  const hosted::LogSinkSlot old_sink = hosted::set_log_sink([](const char*, size_t, void*) {}, nullptr);
  const int rounds = kUnderTsan ? 60 : 400;
  unsigned destroy_pairs = 0;
  for (int round = 0; round < rounds; ++round) {
    KmemCache* c = slab_.cache_create("racing", 128, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    void* o = slab_.cache_alloc(c, GFP_KERNEL);
    ASSERT_NE(o, nullptr);
    slab_.cache_free(c, o);  // in this CPU's array: the destroy drains it
    const bool both_destroy = round % 2 == 0;
    destroy_pairs += both_destroy;
    std::atomic<int> ready{0};
    auto call = [&](unsigned cpu, bool destroy) {
      hosted::set_this_thread_cpu(cpu);
      ready.fetch_add(1);
      while (ready.load() < 2) {
      }
      if (destroy) slab_.cache_destroy(c); else slab_.cache_shrink(c);
    };
    std::thread a(call, 1u, true), b(call, 2u, both_destroy);
    a.join();
    b.join();
    EXPECT_FALSE(slab_.cache_handle_ok(c)) << round;
  }
  set_error_handler(old.handler, old.context);
  hosted::set_log_sink(old_sink);
  EXPECT_EQ(counts.other.load(), 0u);
  EXPECT_GE(counts.invalid.load(), destroy_pairs);  // every second destroy
  EXPECT_LE(counts.invalid.load(), static_cast<unsigned>(rounds));
  EXPECT_TRUE(test::SlabVerified(slab_));
}

}  // namespace
}  // namespace pf
