// workloads.hpp — the bodies of issue 6's workloads, written once as
// templates over an allocator (peers.hpp's interface; ours in ours.hpp) so
// that the Google Benchmark runs and the callgrind driver execute the very
// same code, inlined into the loop for every allocator alike.
//
// Determinism: every random choice (free orders, the mixed-order trace, the
// fragmentation pattern) comes from a fixed seed through the generator below,
// identical for every allocator. A workload that cannot run (an allocation
// failed where it must not) returns false and the caller reports an error.
#pragma once

#include <sched.h>

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>

#include "peers.hpp"
#include "tests/conformance/facade.hpp"

namespace pf::bench {

inline constexpr uint64_t kSeed = 0x5eed'2024'0006ull;

// splitmix64, the same generator the conformance cases use.
using Rng = conformance::Rng;

template <typename T>
void shuffle(std::span<T> items, Rng& rng) {
  for (size_t i = items.size(); i > 1; --i) std::swap(items[i - 1], items[rng.below(i)]);
}

// ---- workload 1: order-0 pairs and batches --------------------------------

template <typename A>
inline bool pair_once(A& a) {
  auto p = a.page_alloc();
  if (is_null(p)) [[unlikely]]
    return false;
  benchmark::DoNotOptimize(p);
  a.page_free(p);
  return true;
}

enum class FreeOrder { Allocation, Reverse, Random };
const char* free_order_name(FreeOrder o);
// The order in which a batch of n is freed: a permutation of 0..n-1.
std::vector<uint32_t> free_permutation(size_t n, FreeOrder order);

// Allocates held.size() pages, then frees them in `perm` order.
template <typename A>
inline bool batch_once(A& a, std::span<typename A::Page> held, std::span<const uint32_t> perm) {
  const size_t n = held.size();
  for (size_t i = 0; i < n; ++i) {
    held[i] = a.page_alloc();
    if (is_null(held[i])) [[unlikely]] {
      for (size_t j = 0; j < i; ++j) a.page_free(held[j]);
      return false;
    }
  }
  benchmark::ClobberMemory();
  for (size_t k = 0; k < n; ++k) a.page_free(held[perm[k]]);
  return true;
}

// ---- workload 2: mixed orders at 50% occupancy ----------------------------

struct MixedOp {
  uint32_t slot;
  uint8_t order;
  bool alloc;
};

// A replayable trace: while occupancy stays at or below half of
// `frames`, a block of a uniformly random order 0..10 is allocated;
// otherwise a uniformly random live block is freed, which gives each block a
// random lifetime. `main` runs to the measuring point; `tail` frees what
// is still live, so every replay ends empty.
struct MixedTrace {
  std::vector<MixedOp> main;
  std::vector<MixedOp> tail;
  uint32_t slot_count = 0;
  size_t ops() const { return main.size() + tail.size(); }
};
MixedTrace make_mixed_trace(uint64_t frames, size_t main_ops, uint64_t seed);

// Replays ops; a failed allocation leaves its slot null and counts a failure
// (its later free is skipped).
template <typename A, typename Block>
inline uint64_t mixed_replay(A& a, std::span<const MixedOp> ops, std::span<Block> slots) {
  uint64_t failures = 0;
  for (const MixedOp& op : ops) {
    Block& b = slots[op.slot];
    if (op.alloc) {
      b = a.block_alloc(op.order);
      failures += is_null(b) ? 1 : 0;
    } else if (!is_null(b)) {
      a.block_free(b, op.order);
      b = Block{};
    }
  }
  return failures;
}

// ---- workload 4: objects --------------------------------------------------

template <typename A>
inline bool object_pair_once(A& a, size_t size) {
  void* p = a.obj_alloc(size);
  if (p == nullptr) [[unlikely]]
    return false;
  benchmark::DoNotOptimize(p);
  a.obj_free(p, size);
  return true;
}

// Allocates held.size() objects, then frees them in allocation order.
template <typename A>
inline bool object_batch_once(A& a, size_t size, std::span<void*> held) {
  const size_t n = held.size();
  for (size_t i = 0; i < n; ++i) {
    held[i] = a.obj_alloc(size);
    if (held[i] == nullptr) [[unlikely]] {
      for (size_t j = 0; j < i; ++j) a.obj_free(held[j], size);
      return false;
    }
  }
  benchmark::ClobberMemory();
  for (size_t i = 0; i < n; ++i) a.obj_free(held[i], size);
  return true;
}

// ---- workload 5: cross-thread producer/consumer ---------------------------

// A single-producer single-consumer ring of batches. The producer fills a
// batch and publishes it; the consumer frees it. At most kDepth batches are
// in flight, so memory stays bounded whatever the speeds.
template <typename Item, size_t kBatch>
class BatchRing {
 public:
  static constexpr size_t kDepth = 8;

  Item* producer_slot() {
    const uint64_t h = head_.load(std::memory_order_relaxed);
    wait([&] { return h - tail_.load(std::memory_order_acquire) < kDepth; });
    return slots_[h % kDepth].data();
  }
  void publish() { head_.store(head_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }
  void finish() { done_.store(true, std::memory_order_release); }

  // Null once the producer finished and every batch was consumed.
  Item* consumer_slot() {
    const uint64_t t = tail_.load(std::memory_order_relaxed);
    bool ready = false;
    wait([&] {
      if (head_.load(std::memory_order_acquire) != t) return ready = true;
      return done_.load(std::memory_order_acquire) && head_.load(std::memory_order_acquire) == t;
    });
    return ready ? slots_[t % kDepth].data() : nullptr;
  }
  void release() { tail_.store(tail_.load(std::memory_order_relaxed) + 1, std::memory_order_release); }

 private:
  // Spin briefly, then yield: two cores are shared with everything else.
  template <typename Pred>
  static void wait(Pred ready) {
    for (unsigned spins = 0; !ready(); ++spins) {
      if (spins < 256)
        __builtin_ia32_pause();
      else
        sched_yield();
    }
  }

  std::array<std::array<Item, kBatch>, kDepth> slots_{};
  alignas(64) std::atomic<uint64_t> head_{0};  // batches published
  alignas(64) std::atomic<uint64_t> tail_{0};  // batches consumed
  alignas(64) std::atomic<bool> done_{false};
};

inline constexpr size_t kCrossBatch = 256;

// One benchmark run: this thread allocates batches of 256 (one per
// iteration), a second thread frees them. `alloc()` returns an item (null
// on failure), `release(item)` frees it; `consumer_setup()` runs first on
// the consumer thread (to pin it to its own CPU slot).
template <typename Item, typename Alloc, typename Release, typename Setup>
void cross_thread_run(benchmark::State& state, Alloc alloc, Release release, Setup consumer_setup) {
  auto ring = std::make_unique<BatchRing<Item, kCrossBatch>>();
  std::thread consumer([&] {
    consumer_setup();
    while (Item* batch = ring->consumer_slot()) {
      for (size_t i = 0; i < kCrossBatch; ++i) release(batch[i]);
      ring->release();
    }
  });
  for (auto _ : state) {
    Item* batch = ring->producer_slot();
    size_t i = 0;
    for (; i < kCrossBatch; ++i) {
      batch[i] = alloc();
      if (is_null(batch[i])) [[unlikely]]
        break;
    }
    if (i < kCrossBatch) [[unlikely]] {
      for (size_t j = 0; j < i; ++j) release(batch[j]);
      state.SkipWithError("an allocation failed in the producer");
      break;
    }
    ring->publish();
  }
  ring->finish();
  consumer.join();
}

}  // namespace pf::bench
