// bulk.hpp — the bodies of the bulk-call workloads (issue 9), ours only
// (the peers have no bulk calls): shared by the timed rows (bench_bulk.cpp)
// and the callgrind mode (callgrind.cpp), so both run the same code.
#pragma once

#include <cstdint>
#include <span>

#include <benchmark/benchmark.h>

#include "kernel/mm/page_alloc.hpp"
#include "slab_adaptor.hpp"

namespace pf::bench {

// One alloc_pages_bulk of held.size() order-0 pages, then free_pages of each
// in `perm` order. False (everything given back) if the bulk call came back
// short.
inline bool page_bulk_batch_once(PageAllocator& pa, std::span<PhysAddr> held, std::span<const uint32_t> perm) {
  const size_t got = pa.alloc_pages_bulk(Order{0}, GFP_KERNEL, held.size(), held.data());
  if (got != held.size()) [[unlikely]] {
    for (size_t i = 0; i < got; ++i) pa.free_pages(held[i], Order{0});
    return false;
  }
  benchmark::ClobberMemory();
  for (uint32_t k : perm) pa.free_pages(held[k], Order{0});
  return true;
}

// kmem_cache_alloc_bulk of held.size() objects, then kmem_cache_free_bulk.
// All or nothing: false when the allocation failed (nothing to give back).
inline bool object_bulk_batch_once(OursCache& a, std::span<void*> held) {
  if (a.slab->cache_alloc_bulk(a.cache, GFP_KERNEL, held.size(), held.data()) != held.size()) [[unlikely]]
    return false;
  benchmark::ClobberMemory();
  a.slab->cache_free_bulk(a.cache, held.size(), held.data());
  return true;
}

}  // namespace pf::bench
