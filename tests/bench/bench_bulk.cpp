// bench_bulk.cpp — issue 9's bulk calls, reported beside the single-call
// batches they replace (no target of their own):
//   pages.batch{512,16384}.<free order>/ours-bulk  one alloc_pages_bulk for
//       the whole batch, then free_pages one by one in the row's free order
//       (there is no free_pages_bulk);
//   slab.batch1024.<size>/cache-bulk  kmem_cache_alloc_bulk of 1024 objects,
//       then kmem_cache_free_bulk of them, on a dedicated cache.
// The case names are those of the single-call rows (bench_pages.cpp,
// bench_slab.cpp), so the report puts each bulk row right under its
// single-call row; the allocator names are listed in report.cpp's kOurs.
// The bodies live in bulk.hpp so that the callgrind mode counts the same code.
#include <span>
#include <string>
#include <vector>

#include "bulk.hpp"
#include "registry.hpp"
#include "slab_adaptor.hpp"
#include "workloads.hpp"

namespace pf::bench {

namespace {

constexpr uint64_t kRam = 1 * GiB;
constexpr size_t kObjectBatch = 1024;
constexpr size_t kSizes[] = {16, 32, 64, 128, 256, 512, 1024, 2048, 4096};

void add_page_bulk(size_t n, FreeOrder order) {
  const std::string name = "pages.batch" + std::to_string(n) + "." + free_order_name(order);
  benchmark::RegisterBenchmark(bench_name(name, "ours-bulk").c_str(), [n, order](benchmark::State& state) {
    const std::vector<uint32_t> perm = free_permutation(n, order);
    with_pages<OursPages>(state, kRam, [&](OursPages& a) {
      std::vector<PhysAddr> held(n);
      for (auto _ : state) {
        if (!page_bulk_batch_once(*a.pa, std::span(held), std::span(perm))) [[unlikely]] {
          state.SkipWithError("alloc_pages_bulk came back short");
          break;
        }
      }
    });
    state.counters[kOpsCounter] = static_cast<double>(n);
  });
}

void add_object_bulk(size_t size) {
  const std::string name = "slab.batch" + std::to_string(kObjectBatch) + "." + std::to_string(size);
  benchmark::RegisterBenchmark(bench_name(name, "cache-bulk").c_str(), [size](benchmark::State& state) {
    std::vector<void*> held(kObjectBatch);
    with_objects<OursCache>(state, kRam, size, [&](OursCache& a) {
      for (auto _ : state) {
        if (!object_bulk_batch_once(a, std::span(held))) [[unlikely]] {
          state.SkipWithError("kmem_cache_alloc_bulk failed");
          break;
        }
      }
    });
    state.counters[kOpsCounter] = static_cast<double>(kObjectBatch);
  });
}

}  // namespace

void register_bulk_benchmarks(const RegisterOptions&) {
  for (size_t n : {size_t{512}, size_t{16384}})
    for (FreeOrder order : {FreeOrder::Allocation, FreeOrder::Reverse, FreeOrder::Random})
      add_page_bulk(n, order);
  for (size_t size : kSizes) add_object_bulk(size);
}

}  // namespace pf::bench
