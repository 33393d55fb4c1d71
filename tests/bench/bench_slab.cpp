// bench_slab.cpp — workload 4 of issue 6: object alloc+free pairs and
// batches of 1024 (freed in allocation order), for sizes 16..4096, through
// kmalloc and through a dedicated kmem_cache, against the peers' malloc.
// Also what each debug option costs (issue 5): the same cache pair plain,
// with SLAB_DEBUG, with init_on_alloc and with init_on_free.
#include <memory>
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

// One slab option set; the report divides each by "plain" (debug_cost_table).
struct DebugVariant {
  const char* name;
  unsigned cache_flags;
  SlabConfig config;
};
constexpr DebugVariant kDebugVariants[] = {
    {"plain", 0, {.cpu_count = kBenchCpus}},
    {"slab-debug", SLAB_DEBUG, {.cpu_count = kBenchCpus}},
    {"init-on-alloc", 0, {.cpu_count = kBenchCpus, .init_on_alloc = true}},
    {"init-on-free", 0, {.cpu_count = kBenchCpus, .init_on_free = true}},
    {"freelist-random", SLAB_FREELIST_RANDOM, {.cpu_count = kBenchCpus}},
};
constexpr size_t kDebugSizes[] = {16, 64, 256, 1024, 4096};

// Pairs show the options that act on every object; batches of 1024 also
// show those paid per slab (SLAB_FREELIST_RANDOM shuffles a slab's freelist
// when the slab is made, so a pair on a warm cache never sees it).
void add_debug_cost(size_t size, const DebugVariant& v, bool batch) {
  const std::string name = std::string(batch ? "debugcost-batch." : "debugcost.") + std::to_string(size);
  benchmark::RegisterBenchmark(bench_name(name, v.name).c_str(), [size, v, batch](benchmark::State& state) {
    std::vector<void*> held(batch ? kSlabBatch : 0);
    on_fresh_machine(state, kSlabRam, [&](BenchMachine& machine) {
      with_slab(state, machine, v.config, [&](SlabAllocator& slab) {
        return with_cache(state, slab, size, v.cache_flags, [&](OursCache& a) {
          for (auto _ : state) {
            const bool ok = batch ? object_batch_once(a, size, std::span(held)) : object_pair_once(a, size);
            if (!ok) [[unlikely]] {
              state.SkipWithError("an allocation failed");
              break;
            }
            // Empty slabs go back, so the next batch makes new ones.
            if (batch) slab.cache_shrink(a.cache);
          }
        });
      });
    });
    state.counters[kOpsCounter] = batch ? static_cast<double>(kSlabBatch) : 1;
  });
}

}  // namespace

void register_slab_benchmarks(const RegisterOptions&) {
  add_all_sizes<OursKmalloc, OursKmallocSized, OursCache, Glibc, Mimalloc, Jemalloc, Tcmalloc>();
  for (bool batch : {false, true})
    for (size_t size : kDebugSizes)
      for (const DebugVariant& v : kDebugVariants) add_debug_cost(size, v, batch);
}

}  // namespace pf::bench
