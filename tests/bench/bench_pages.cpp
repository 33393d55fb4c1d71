// bench_pages.cpp — workloads 1-3 of issue 6: order-0 pairs and batches,
// mixed orders at 50% occupancy, and high order after fragmentation.
//
// Every allocator gets the same loop (workloads.hpp) inlined. Ours runs on a
// fresh 1 GiB machine per benchmark run and must leave it as found.
#include <span>
#include <string>
#include <vector>

#include "registry.hpp"
#include "workloads.hpp"

namespace pf::bench {

namespace {

constexpr uint64_t kPageRam = 1 * GiB;
constexpr size_t kMixedOps = 50000;

template <typename P>
void add_pair() {
  benchmark::RegisterBenchmark(bench_name("pages.pair", P::kName).c_str(),
                               [](benchmark::State& state) {
                                 with_pages<P>(state, kPageRam, [&](auto& a) {
                                   for (auto _ : state) {
                                     if (!pair_once(a)) [[unlikely]] {
                                       state.SkipWithError("an allocation failed");
                                       break;
                                     }
                                   }
                                 });
                                 state.counters[kOpsCounter] = 1;
                               });
}

template <typename P>
void add_batch(size_t n, FreeOrder order) {
  const std::string name = "pages.batch" + std::to_string(n) + "." + free_order_name(order);
  benchmark::RegisterBenchmark(bench_name(name, P::kName).c_str(),
                               [n, order](benchmark::State& state) {
                                 const std::vector<uint32_t> perm = free_permutation(n, order);
                                 with_pages<P>(state, kPageRam, [&](auto& a) {
                                   std::vector<typename std::decay_t<decltype(a)>::Page> held(n);
                                   for (auto _ : state) {
                                     if (!batch_once(a, std::span(held), std::span(perm)))
                                         [[unlikely]] {
                                       state.SkipWithError("an allocation failed");
                                       break;
                                     }
                                   }
                                 });
                                 state.counters[kOpsCounter] = static_cast<double>(n);
                               });
}

const MixedTrace& mixed_trace() {
  // Sized for ours: the frames a 1 GiB machine manages, less its descriptors.
  static const MixedTrace trace = make_mixed_trace(kPageRam / kPage - kPageRam / kPage * 16 / kPage,
                                                   kMixedOps, kSeed);
  return trace;
}

template <typename P>
void add_mixed() {
  benchmark::RegisterBenchmark(
      bench_name("pages.mixed", P::kName).c_str(), [](benchmark::State& state) {
        const MixedTrace& trace = mixed_trace();
        uint64_t failures = 0;
        int largest_at_half = -1;
        with_pages<P>(state, kPageRam, [&](auto& a) {
          using Block = typename std::decay_t<decltype(a)>::Page;
          std::vector<Block> slots(trace.slot_count);
          for (auto _ : state) {
            failures += mixed_replay(a, std::span(trace.main), std::span(slots));
            if constexpr (std::is_same_v<P, OursPages>) largest_at_half = a.pa->largest_free_order();
            failures += mixed_replay(a, std::span(trace.tail), std::span(slots));
          }
        });
        state.counters[kOpsCounter] = static_cast<double>(trace.ops());
        state.counters["alloc_failures"] =
            benchmark::Counter(static_cast<double>(failures), benchmark::Counter::kAvgIterations);
        if constexpr (std::is_same_v<P, OursPages>)
          state.counters["largest_free_order"] = largest_at_half;
      });
}

void add_high_order(FragPattern pattern) {
  const std::string name = std::string("pages.highorder.") + frag_pattern_name(pattern);
  benchmark::RegisterBenchmark(bench_name(name, "ours").c_str(), [pattern](benchmark::State& state) {
    HighOrderResult r;
    with_pages<OursPages>(state, kPageRam, [&](OursPages& a) {
      for (auto _ : state) r = high_order_after_fragmentation(*a.pa, pattern, kSeed);
    });
    state.counters[kOpsCounter] = static_cast<double>(r.filled + r.freed + r.successes + 1);
    state.counters["order9_successes"] = static_cast<double>(r.successes);
    state.counters["oracle"] = static_cast<double>(r.oracle);
    state.counters["freed_frames"] = static_cast<double>(r.freed);
  })->Iterations(2);
}

template <typename... Ps>
void add_pairs_and_batches(const RegisterOptions& options) {
  (add_pair<Ps>(), ...);
  for (size_t n : {size_t{512}, size_t{16384}}) {
    for (FreeOrder order : {FreeOrder::Allocation, FreeOrder::Reverse, FreeOrder::Random}) {
      // mmap batches of 16384 take ~0.1 s each: enough for the smoke run
      // to see them once at 512.
      (([&] {
         if (options.smoke && n > 512 && std::is_same_v<Ps, Mmap>) return;
         add_batch<Ps>(n, order);
       })(),
       ...);
    }
  }
}

}  // namespace

void register_page_benchmarks(const RegisterOptions& options) {
  add_pairs_and_batches<OursPages, Ideal, Glibc, Mimalloc, Jemalloc, Tcmalloc, Mmap>(options);
  add_mixed<OursPages>();
  add_mixed<Glibc>();
  add_mixed<Mimalloc>();
  add_mixed<Jemalloc>();
  add_mixed<Tcmalloc>();
  add_high_order(FragPattern::Clustered);
  add_high_order(FragPattern::Scattered);
}

}  // namespace pf::bench
