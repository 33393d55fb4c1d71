// bench_slab.cpp — workload 4 of issue 6: object alloc+free pairs and
// batches of 1024 (freed in allocation order), for sizes 16..4096, through
// kmalloc and through a dedicated kmem_cache, against the peers' malloc.
#include <span>
#include <string>
#include <vector>

#include "slab_adaptor.hpp"
#include "workloads.hpp"

namespace pf::bench {

namespace {

constexpr uint64_t kSlabRam = 1 * GiB;
constexpr size_t kSlabBatch = 1024;
constexpr size_t kSizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

template <typename P>
void add_slab_pair(size_t size) {
  const std::string name = "slab.pair." + std::to_string(size);
  benchmark::RegisterBenchmark(bench_name(name, P::kName).c_str(), [size](benchmark::State& state) {
    with_objects<P>(state, kSlabRam, size, [&](auto& a) {
      for (auto _ : state) {
        if (!object_pair_once(a, size)) [[unlikely]] {
          state.SkipWithError("an allocation failed");
          break;
        }
      }
    });
    state.counters[kOpsCounter] = 1;
  });
}

template <typename P>
void add_slab_batch(size_t size) {
  const std::string name = "slab.batch" + std::to_string(kSlabBatch) + "." + std::to_string(size);
  benchmark::RegisterBenchmark(bench_name(name, P::kName).c_str(), [size](benchmark::State& state) {
    std::vector<void*> held(kSlabBatch);
    with_objects<P>(state, kSlabRam, size, [&](auto& a) {
      for (auto _ : state) {
        if (!object_batch_once(a, size, std::span(held))) [[unlikely]] {
          state.SkipWithError("an allocation failed");
          break;
        }
      }
    });
    state.counters[kOpsCounter] = static_cast<double>(kSlabBatch);
  });
}

template <typename... Ps>
void add_all_sizes() {
  for (size_t size : kSizes) (add_slab_pair<Ps>(size), ...);
  for (size_t size : kSizes) (add_slab_batch<Ps>(size), ...);
}

}  // namespace

void register_slab_benchmarks(const RegisterOptions&) {
  add_all_sizes<OursKmalloc, OursCache, Glibc, Mimalloc, Jemalloc, Tcmalloc>();
}

}  // namespace pf::bench
