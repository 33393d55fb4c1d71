// bench_xthread.cpp — workload 5 of issue 6: one thread allocates, another
// frees, in batches of 256, for pages and for 64-byte objects.
//
// The producer is the benchmark thread (CPU slot 0); the consumer pins
// itself to slot 1, so for ours every page crosses from one per-CPU cache to
// the other through the buddy. Times are wall-clock (two threads at work).
#include <string>

#include "registry.hpp"
#include "slab_adaptor.hpp"
#include "workloads.hpp"

namespace pf::bench {

namespace {

constexpr uint64_t kCrossRam = 1 * GiB;
constexpr size_t kObjectSize = 64;

void pin_consumer() { hosted::set_this_thread_cpu(1); }

template <typename P>
void add_cross_pages() {
  benchmark::RegisterBenchmark(bench_name("xthread.pages", P::kName).c_str(),
                               [](benchmark::State& state) {
                                 with_pages<P>(state, kCrossRam, [&](auto& a) {
                                   using Page = typename std::decay_t<decltype(a)>::Page;
                                   cross_thread_run<Page>(
                                       state, [&] { return a.page_alloc(); },
                                       [&](Page p) { a.page_free(p); }, pin_consumer);
                                 });
                                 state.counters[kOpsCounter] = static_cast<double>(kCrossBatch);
                               })
      ->UseRealTime();
}

template <typename P>
void add_cross_objects() {
  benchmark::RegisterBenchmark(
      bench_name("xthread.obj64", P::kName).c_str(),
      [](benchmark::State& state) {
        with_objects<P>(state, kCrossRam, kObjectSize, [&](auto& a) {
          cross_thread_run<void*>(
              state, [&] { return a.obj_alloc(kObjectSize); },
              [&](void* p) { a.obj_free(p, kObjectSize); }, pin_consumer);
        });
        state.counters[kOpsCounter] = static_cast<double>(kCrossBatch);
      })
      ->UseRealTime();
}

}  // namespace

void register_cross_thread_benchmarks(const RegisterOptions&) {
  add_cross_pages<OursPages>();
  add_cross_pages<Glibc>();
  add_cross_pages<Mimalloc>();
  add_cross_pages<Jemalloc>();
  add_cross_pages<Tcmalloc>();
  add_cross_pages<Mmap>();
  add_cross_objects<OursKmalloc>();
  add_cross_objects<OursCache>();
  add_cross_objects<Glibc>();
  add_cross_objects<Mimalloc>();
  add_cross_objects<Jemalloc>();
  add_cross_objects<Tcmalloc>();
}

}  // namespace pf::bench
