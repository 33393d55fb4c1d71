// slab_debug_test.cpp — debug caches (SLAB_DEBUG, SlabConfig::debug) and
// init-on-alloc/free: each debug-mode class found by name (with a recorder,
// state left consistent) and fatal by default (death tests); the slab
// conformance cases and a random workload with debug on everywhere.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernel/mm/slab.hpp"
#include "tests/conformance/facade.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::check_pattern;
using test::fill_pattern;

// Debug on for every cache, the kmalloc ones included.
class SlabDebug : public test::SlabFixture {
 protected:
  SlabConfig slab_config() const override { return {.cpu_count = kCpus, .debug = true}; }

  // Exactly one report of `code` while `fn` runs; returns its message.
  template <typename Fn>
  std::string expect_one(ErrorCode code, Fn fn) {
    test::ErrorRecorder rec;
    test::LogCapture log;
    fn();
    EXPECT_EQ(rec.count(), 1u);
    if (rec.count() == 0) return {};
    EXPECT_EQ(rec.last_code(), code) << rec.last_message();
    EXPECT_NE(rec.last_message().find(error_name(code)), std::string::npos);
    return rec.last_message();
  }
};

TEST_F(SlabDebug, DebugCachesHaveRedzonesTrackingAndNoPerCpuArrays) {
  for (size_t i = 0; i < kKmallocClassCount; ++i) {
    const KmemCache* c = slab_.kmalloc_cache(i);
    EXPECT_TRUE(c->debug()) << c->name();
    EXPECT_FALSE(c->has_cpu_arrays()) << c->name();
    EXPECT_GE(c->redzone_end(), c->object_size() + 16);
    EXPECT_GE(c->stride(), c->redzone_end() + 8 + sizeof(slab_detail::Track));
  }
}

TEST(SlabDebugFlag, OnlyTheFlaggedCacheIsADebugCache) {
  auto m = test::Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(m->ok());
  const uint64_t before = m->free_frames();
  SlabAllocator slab;
  ASSERT_EQ(slab.init(m->pages(), {.cpu_count = 2}), PF_OK);
  KmemCache* plain = slab.cache_create("plain", 40, 0, 0, nullptr);
  KmemCache* checked = slab.cache_create("checked", 40, 0, SLAB_DEBUG, nullptr);
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(checked, nullptr);
  EXPECT_FALSE(plain->debug());
  EXPECT_TRUE(checked->debug());
  EXPECT_FALSE(slab.kmalloc_cache(0)->debug());
  auto* p = static_cast<char*>(slab.cache_alloc(checked, GFP_KERNEL));
  p[40] = 1;  // one byte past
  {
    test::ErrorRecorder rec;
    slab.cache_free(checked, p);
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabRedzoneOverwritten);
  }
  EXPECT_EQ(slab.cache_destroy(plain), 0u);
  EXPECT_EQ(slab.cache_destroy(checked), 0u);
  EXPECT_TRUE(test::SlabVerified(slab));
  EXPECT_EQ(slab.teardown(), 0u);
  EXPECT_EQ(m->free_frames(), before);
}

TEST_F(SlabDebug, OverflowByOneAndByEightBytesIsFoundAtFree) {
  KmemCache* c = slab_.cache_create("rz", 24, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  for (size_t past : {size_t{0}, size_t{7}}) {
    auto* p = static_cast<unsigned char*>(slab_.cache_alloc(c, GFP_KERNEL));
    ASSERT_NE(p, nullptr);
    std::memset(p, 0x11, 24);  // the object itself is fine to write
    p[24 + past] = 0x42;
    const std::string msg = expect_one(ErrorCode::SlabRedzoneOverwritten, [&] { slab_.cache_free(c, p); });
    EXPECT_NE(msg.find("cache=rz"), std::string::npos) << msg;
    EXPECT_TRUE(Clean()) << "the free went through and the redzone was restored";
    EXPECT_EQ(slab_.stats(c).active_objects, 0u);
  }
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabDebug, KmallocRedzoneStartsAtTheRequestedSize) {
  auto* p = static_cast<unsigned char*>(slab_.kmalloc(13, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(slab_.ksize(p), 13u) << "ksize of a debug object is the requested size";
  p[13] = 0;  // inside the 16-byte class, past the request
  expect_one(ErrorCode::SlabRedzoneOverwritten, [&] { slab_.kfree(p); });
  // Grown in place within its class, the redzone moves with it.
  p = static_cast<unsigned char*>(slab_.kmalloc(13, GFP_KERNEL));
  fill_pattern(p, 13, 5);
  auto* q = static_cast<unsigned char*>(slab_.krealloc(p, 16, GFP_KERNEL));
  EXPECT_EQ(q, p);
  EXPECT_EQ(slab_.ksize(q), 16u);
  EXPECT_TRUE(check_pattern(q, 13, 5));
  q[15] = 1;
  {
    test::ErrorRecorder rec;
    q = static_cast<unsigned char*>(slab_.krealloc(q, 4, GFP_KERNEL));  // shrink: redzone from 4
    EXPECT_EQ(rec.count(), 0u);
    q[3] = 1;
    slab_.kfree(q);
    EXPECT_EQ(rec.count(), 0u) << rec.last_message();
  }
  EXPECT_TRUE(Clean());
}

TEST_F(SlabDebug, VerifyFindsAnOverflowOfALiveObject) {
  auto* p = static_cast<unsigned char*>(slab_.kmalloc(100, GFP_KERNEL));
  const unsigned char saved = p[100];
  p[100] = 0;
  expect_one(ErrorCode::SlabRedzoneOverwritten, [&] { EXPECT_FALSE(slab_.verify()); });
  p[100] = saved;
  EXPECT_TRUE(Clean());
  slab_.kfree(p);
}

TEST_F(SlabDebug, WriteAfterFreeIsFoundWhenTheObjectIsHandedOutAgainAndByVerify) {
  KmemCache* c = slab_.cache_create("uaf", 64, 0, 0, nullptr);
  auto* p = static_cast<unsigned char*>(slab_.cache_alloc(c, GFP_KERNEL));
  slab_.cache_free(c, p);
  for (int i = 0; i < 64; ++i) ASSERT_EQ(p[i], slab_detail::kPoisonByte) << "free objects are poisoned";
  p[10] = 0;  // use after free
  expect_one(ErrorCode::SlabWriteAfterFree, [&] { EXPECT_FALSE(slab_.verify()); });
  void* again = nullptr;
  expect_one(ErrorCode::SlabWriteAfterFree, [&] { again = slab_.cache_alloc(c, GFP_KERNEL); });
  EXPECT_EQ(again, p) << "the freelist is LIFO: the poisoned object comes back first";
  EXPECT_TRUE(Clean());
  slab_.cache_free(c, again);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabDebug, DelayedAndImmediateDoubleFreesAreRefused) {
  KmemCache* c = slab_.cache_create("df", 32, 0, 0, nullptr);
  void* a = slab_.cache_alloc(c, GFP_KERNEL);
  void* b = slab_.cache_alloc(c, GFP_KERNEL);
  slab_.cache_free(c, a);
  expect_one(ErrorCode::SlabDoubleFree, [&] { slab_.cache_free(c, a); });
  slab_.cache_free(c, b);
  const CacheStats before = slab_.stats(c);
  expect_one(ErrorCode::SlabDelayedDoubleFree, [&] { slab_.cache_free(c, a); });
  expect_one(ErrorCode::SlabDelayedDoubleFree, [&] { slab_.kfree(a); });
  EXPECT_EQ(slab_.stats(c).active_objects, before.active_objects);
  EXPECT_TRUE(Clean());
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabDebug, FreelistLinksAreEncodedAndACorruptedOneIsRepaired) {
  KmemCache* c = slab_.cache_create("links", 48, 0, SLAB_NO_COLOUR, nullptr);
  std::vector<void*> objs;
  for (int i = 0; i < 8; ++i) objs.push_back(slab_.cache_alloc(c, GFP_KERNEL));
  for (void* p : objs) slab_.cache_free(c, p);
  // The head of the freelist is the last object freed; its link names the
  // one freed before it, but not in the clear.
  auto* link = reinterpret_cast<uintptr_t*>(static_cast<char*>(objs.back()) + c->free_offset());
  EXPECT_NE(*link, reinterpret_cast<uintptr_t>(objs[objs.size() - 2])) << "links are encoded";
  // A stray write over the link: the next allocation takes the head, and
  // finds the link broken.
  const uintptr_t saved = *link;
  *link = reinterpret_cast<uintptr_t>(objs[0]);  // a plausible pointer, written raw
  std::vector<void*> again;
  expect_one(ErrorCode::SlabFreelistCorrupted, [&] {
    for (size_t i = 0; i < objs.size(); ++i) again.push_back(slab_.cache_alloc(c, GFP_KERNEL));
  });
  (void)saved;
  // Nothing lost: the same objects come back, each once.
  std::sort(again.begin(), again.end());
  std::vector<void*> sorted = objs;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(again, sorted);
  EXPECT_TRUE(Clean());
  for (void* p : again) slab_.cache_free(c, p);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST_F(SlabDebug, DestroyListsLiveObjectsWithSizeAndCaller) {
  KmemCache* c = slab_.cache_create("tracked", 40, 0, 0, nullptr);
  void* p = slab_.cache_alloc(c, GFP_KERNEL);
  {
    test::ErrorRecorder rec;
    test::LogCapture log;
    EXPECT_EQ(slab_.cache_destroy(c), 1u);
    EXPECT_EQ(rec.last_code(), ErrorCode::CacheDestroyedWithLiveObjects);
    char line[128];
    std::snprintf(line, sizeof line, "live object 0x%lx size 40 allocated by 0x",
                  static_cast<unsigned long>(reinterpret_cast<uintptr_t>(p)));
    EXPECT_NE(log.text().find(line), std::string::npos) << log.text();
  }
  slab_.cache_free(c, p);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

TEST(SlabDebugLeaks, TeardownReportsLeaksWithSizeAndCaller) {
  auto m = test::Machine::with_ram(16 * MiB, 1);
  ASSERT_TRUE(m->ok());
  SlabAllocator slab;
  ASSERT_EQ(slab.init(m->pages(), {.cpu_count = 1, .debug = true}), PF_OK);
  void* kept = slab.kmalloc(300, GFP_KERNEL);
  void* freed = slab.kmalloc(300, GFP_KERNEL);
  slab.kfree(freed);
  test::ErrorRecorder rec;
  test::LogCapture log;
  EXPECT_EQ(slab.teardown(), 1u);
  EXPECT_EQ(rec.last_code(), ErrorCode::Leak);
  EXPECT_NE(rec.last_message().find("cache=kmalloc-384"), std::string::npos) << rec.last_message();
  char line[128];
  std::snprintf(line, sizeof line, "live object 0x%lx size 300 allocated by 0x",
                static_cast<unsigned long>(reinterpret_cast<uintptr_t>(kept)));
  EXPECT_NE(log.text().find(line), std::string::npos) << log.text();
  // Still usable for the leaked object; a second teardown finishes.
  slab.kfree(kept);
  EXPECT_EQ(slab.teardown(), 0u);
  EXPECT_FALSE(slab.initialised());
}

TEST_F(SlabDebug, RandomWorkloadWithEveryCheckOn) {
  const uint64_t seed = 0xdeb0600d;
  std::mt19937_64 rng(seed);
  std::vector<std::pair<char*, size_t>> live;
  for (int step = 0; step < 8000; ++step) {
    if (rng() % 3 != 0 || live.empty()) {
      const size_t size = 1 + rng() % 3000;
      auto* p = static_cast<char*>(slab_.kmalloc(size, GFP_KERNEL));
      ASSERT_NE(p, nullptr);
      fill_pattern(p, size, size);
      live.push_back({p, size});
    } else {
      const size_t i = rng() % live.size();
      ASSERT_TRUE(check_pattern(live[i].first, live[i].second, live[i].second)) << "seed " << seed;
      slab_.kfree(live[i].first);
      live[i] = live.back();
      live.pop_back();
    }
    if (step % 1000 == 0) {
      ASSERT_TRUE(Clean()) << "seed " << seed << " step " << step;
    }
  }
  for (auto [p, size] : live) slab_.kfree(p);
}

class SlabDebugConformance : public SlabDebug, public ::testing::WithParamInterface<size_t> {
 protected:
  uint64_t ram_bytes() const override { return 128 * MiB; }
};

TEST_P(SlabDebugConformance, Case) {
  const conformance::Case& k = conformance::case_at(GetParam());
  SCOPED_TRACE(k.name);
  slab_.shrink_all();
  const uint64_t before = free_frames();
  conformance::Context ctx{pages(), &slab_, 0x5eed0000 + GetParam(), k.name};
  ctx.on_failure = [](const conformance::Context& c, const char* expr, const char* file, int line) {
    ADD_FAILURE_AT(file, line) << c.case_name << ": PF_CHECK(" << expr << ") failed (seed " << c.seed << ")";
  };
  test::ErrorRecorder rec;
  k.fn(ctx);
  EXPECT_EQ(rec.count(), 0u) << (rec.count() ? rec.last_message() : "");
  EXPECT_EQ(ctx.failures, 0u);
  slab_.shrink_all();
  EXPECT_EQ(free_frames(), before);
  EXPECT_TRUE(Clean());
}

std::vector<size_t> slab_case_indices() {
  std::vector<size_t> v;
  for (size_t i = 0; i < conformance::case_count(); ++i)
    if (conformance::case_at(i).needs_slab) v.push_back(i);
  return v;
}
INSTANTIATE_TEST_SUITE_P(Cases, SlabDebugConformance, ::testing::ValuesIn(slab_case_indices()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(conformance::case_at(info.param).name);
                         });

// ---- init on alloc / free -------------------------------------------------------------

class SlabInit : public test::SlabFixture {
 protected:
  SlabConfig slab_config() const override {
    return {.cpu_count = kCpus, .init_on_alloc = true, .init_on_free = true};
  }
};

TEST_F(SlabInit, ObjectsAreZeroedWhenHandedOutAndWhenFreed) {
  for (size_t size : {8u, 100u, 1000u, 4096u}) {
    std::vector<unsigned char*> objs;
    for (int i = 0; i < 50; ++i) {
      auto* p = static_cast<unsigned char*>(slab_.kmalloc(size, GFP_KERNEL));
      for (size_t b = 0; b < size; ++b) ASSERT_EQ(p[b], 0) << size;
      std::memset(p, 0xcd, size);
      objs.push_back(p);
    }
    for (unsigned char* p : objs) {
      slab_.kfree(p);
      // Freed into this CPU's array, untouched since: zeroed by the free.
      for (size_t b = 0; b < size; ++b) ASSERT_EQ(p[b], 0) << size;
    }
  }
}

TEST_F(SlabInit, ConstructedStateIsNeverWiped) {
  KmemCache* c = slab_.cache_create("ctor-init", 32, 0, 0, [](void* p) { std::memset(p, 0x77, 32); });
  auto* p = static_cast<unsigned char*>(slab_.cache_alloc(c, GFP_KERNEL));
  for (int b = 0; b < 32; ++b) ASSERT_EQ(p[b], 0x77);
  slab_.cache_free(c, p);
  p = static_cast<unsigned char*>(slab_.cache_alloc(c, GFP_KERNEL));
  for (int b = 0; b < 32; ++b) ASSERT_EQ(p[b], 0x77);
  slab_.cache_free(c, p);
  EXPECT_EQ(slab_.cache_destroy(c), 0u);
}

// ---- death tests: each debug class is fatal under the default handler -----------------

using SlabDebugDeathTest = SlabDebug;

TEST_F(SlabDebugDeathTest, EachDebugClassIsFatalByDefault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(slab_.kmalloc(20, GFP_KERNEL));
        p[20] = 1;
        slab_.kfree(p);
      },
      "slab-redzone-overwritten.*cache=kmalloc-24");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(slab_.kmalloc(64, GFP_KERNEL));
        slab_.kfree(p);
        p[0] = 1;
        (void)slab_.kmalloc(64, GFP_KERNEL);
      },
      "slab-write-after-free.*cache=kmalloc-64");
  EXPECT_DEATH(
      {
        void* a = slab_.kmalloc(64, GFP_KERNEL);
        void* b = slab_.kmalloc(64, GFP_KERNEL);
        slab_.kfree(a);
        slab_.kfree(b);
        slab_.kfree(a);
      },
      "slab-delayed-double-free.*cache=kmalloc-64");
  EXPECT_DEATH(
      {
        KmemCache* c = slab_.kmalloc_cache(5);
        void* a = slab_.kmalloc(64, GFP_KERNEL);
        void* b = slab_.kmalloc(64, GFP_KERNEL);
        slab_.kfree(a);
        slab_.kfree(b);
        *reinterpret_cast<uintptr_t*>(static_cast<char*>(b) + c->free_offset()) = 0x1000;
        (void)slab_.kmalloc(64, GFP_KERNEL);
      },
      "slab-freelist-corrupted.*cache=kmalloc-64");
  EXPECT_DEATH(
      {
        (void)slab_.kmalloc(64, GFP_KERNEL);
        slab_.teardown();
      },
      "leak.*cache=kmalloc-64");
}

// ---- debug caches under threads (run by make test-tsan) ---------------------------------

class SlabDebugConcurrency : public SlabDebug {};

TEST_F(SlabDebugConcurrency, ThreadsShareDebugCachesAndVerifyRunsAlongside) {
  constexpr int kRounds = test::kUnderTsan ? 3000 : 30000;
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  auto worker = [&](unsigned me) {
    std::mt19937_64 rng(me);
    std::vector<std::pair<char*, size_t>> held;
    for (int i = 0; i < kRounds; ++i) {
      if (rng() % 2 == 0 || held.empty()) {
        const size_t size = 1 + rng() % 500;
        auto* p = static_cast<char*>(slab_.kmalloc(size, GFP_KERNEL));
        if (p == nullptr) { failures++; continue; }
        fill_pattern(p, size, size);
        held.push_back({p, size});
      } else {
        auto [p, size] = held.back();
        held.pop_back();
        if (!check_pattern(p, size, size)) failures++;
        slab_.kfree(p);
      }
    }
    for (auto [p, size] : held) slab_.kfree(p);
  };
  std::thread observer([&] {
    while (!stop.load()) {
      if (!slab_.verify()) failures++;
      std::this_thread::yield();
    }
  });
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 3; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  stop = true;
  observer.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace pf
