// remote_queue_test.cpp — pages freed on a CPU other than their home CPU
// (page_alloc.cpp, "Frees on two CPUs"; the remote queue and its collect in
// page_pcp.cpp): many more remote frees than one queue holds, and a
// producer/consumer pair (the shape of bench row xthread.pages) with verify()
// and counters() running beside it, so that collects walk their swapped-out
// token buffer while remote frees fill the other one. Every block comes back
// exactly once: the free count is exact, verify() is clean, no report.
// Named "Concurrency" so `make test-tsan` runs it.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/error.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::LeaveAsFound;
using test::Machine;
using test::Verified;

// Beyond a remote queue's capacity (2048 tokens per buffer, kRemoteCap): the
// freeing CPU finds the queue full twice and must collect it itself (more
// would not fit 64 MiB with orders 0..2 mixed).
constexpr size_t kBurst = 5000;

struct NoReports {
  std::atomic<int> count{0};
  test::LogCapture quiet;
  ErrorHandlerSlot old{};
  NoReports() { old = set_error_handler(&NoReports::record, this); }
  ~NoReports() { set_error_handler(old.handler, old.context); }
  static void record(const ErrorReport&, void* self) { static_cast<NoReports*>(self)->count.fetch_add(1); }
};

class RemoteQueueConcurrency : public ::testing::Test {
 protected:
  void SetUp() override {
    m_ = Machine::with_ram(64 * MiB, 4);
    ASSERT_TRUE(m_->ok());
    ASSERT_TRUE(hosted::set_this_thread_cpu(0));
  }
  void TearDown() override { hosted::set_this_thread_cpu(0); }
  PageAllocator& pages() { return m_->pages(); }
  std::unique_ptr<Machine> m_;
};

TEST_F(RemoteQueueConcurrency, RemoteFreesFarBeyondTheQueueCapacity) {
  PageAllocator& p = pages();
  LeaveAsFound guard(p);
  NoReports reports;
  const uint64_t free_before = p.counters().free_frames;
  std::vector<PhysAddr> blocks;
  for (size_t i = 0; i < kBurst; ++i) {
    // Orders 0..2 mixed: tokens carry the order.
    const PhysAddr a = p.alloc_pages(Order{static_cast<unsigned>(i % 3)}, GFP_KERNEL);
    ASSERT_FALSE(a.is_null()) << i;
    blocks.push_back(a);
  }
  uint64_t held = 0;
  for (size_t i = 0; i < kBurst; ++i) held += uint64_t{1} << (i % 3);
  EXPECT_EQ(p.counters().free_frames, free_before - held);
  std::thread remote([&] {
    ASSERT_TRUE(hosted::set_this_thread_cpu(1));
    for (size_t i = 0; i < kBurst; ++i) p.free_pages(blocks[i], Order{static_cast<unsigned>(i % 3)});
  });
  remote.join();
  // Every frame is free again (in CPU 0's caches, its queue, or the zone),
  // before any drain: the queued tokens count as free.
  EXPECT_EQ(p.counters().free_frames, free_before);
  EXPECT_TRUE(Verified(p));
  EXPECT_EQ(reports.count.load(), 0);
  // CPU 0 allocates again: its collect takes its queue back first.
  const PhysAddr again = p.alloc_pages(Order{0}, GFP_KERNEL);
  ASSERT_FALSE(again.is_null());
  EXPECT_TRUE(Verified(p));
  p.free_pages(again, Order{0});
  EXPECT_EQ(p.counters().free_frames, free_before);
  EXPECT_EQ(reports.count.load(), 0);
}

// Producer on CPU 0 allocates batches, consumer on CPU 1 frees them (each a
// remote free), a third thread (no CPU slot of the two) runs verify() and
// reads the counters meanwhile, and drains CPU 0's cache now and then (a
// stopper's collect racing the owner's own).
TEST_F(RemoteQueueConcurrency, ProducerConsumerWithVerifyBeside) {
  PageAllocator& p = pages();
  LeaveAsFound guard(p);
  NoReports reports;
  constexpr size_t kBatch = 256, kDepth = 8;
  const size_t batches = test::kUnderTsan ? 150 : 2000;
  std::vector<PhysAddr> ring(kBatch * kDepth);
  std::atomic<size_t> head{0}, tail{0};
  std::atomic<bool> done{false};
  std::atomic<int> failed_allocs{0};
  std::thread consumer([&] {
    ASSERT_TRUE(hosted::set_this_thread_cpu(1));
    for (size_t b = 0; b < batches; ++b) {
      while (head.load(std::memory_order_acquire) == b) std::this_thread::yield();
      for (size_t i = 0; i < kBatch; ++i) p.free_pages(ring[(b % kDepth) * kBatch + i], Order{0});
      tail.store(b + 1, std::memory_order_release);
    }
  });
  std::thread checker([&] {
    ASSERT_TRUE(hosted::set_this_thread_cpu(2));
    for (unsigned n = 0; !done.load(std::memory_order_acquire); ++n) {
      EXPECT_TRUE(Verified(p));
      (void)p.counters();
      if (n % 4 == 0) p.drain_cpu_cache(0);
      std::this_thread::yield();
    }
  });
  for (size_t b = 0; b < batches; ++b) {
    while (b - tail.load(std::memory_order_acquire) >= kDepth) std::this_thread::yield();
    for (size_t i = 0; i < kBatch; ++i) {
      PhysAddr a = p.alloc_pages(Order{0}, GFP_KERNEL);
      if (a.is_null()) {
        failed_allocs.fetch_add(1);
        a = p.alloc_pages(Order{0}, GFP_KERNEL);  // fails the test below; keep the ring whole
      }
      ring[(b % kDepth) * kBatch + i] = a;
    }
    head.store(b + 1, std::memory_order_release);
  }
  consumer.join();
  done.store(true, std::memory_order_release);
  checker.join();
  EXPECT_EQ(failed_allocs.load(), 0);
  EXPECT_EQ(reports.count.load(), 0);
  EXPECT_TRUE(Verified(p));
}

}  // namespace
}  // namespace pf
