// ours.hpp — pfalloc behind the peers' interface (peers.hpp), plus the
// workload that only a page allocator can run: high order after
// fragmentation, checked against an oracle.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "kernel/mm/page_alloc.hpp"
#include "peers.hpp"

namespace pf::bench {

struct OursPages {
  static constexpr const char* kName = "ours";
  using Page = PhysAddr;
  PageAllocator* pa;
  Page page_alloc() { return pa->alloc_pages(Order{0}, GFP_KERNEL); }
  void page_free(Page p) { pa->free_pages(p, Order{0}); }
  Page block_alloc(unsigned order) { return pa->alloc_pages(Order{order}, GFP_KERNEL); }
  void block_free(Page p, unsigned order) { pa->free_pages(p, Order{order}); }
};

// Workload 3. Fill memory with order-0 blocks, free half of them (chosen by
// `pattern`, freed in random order), then take order-9 blocks until one
// fails. The oracle counts the 2 MiB-aligned ranges whose 512 frames were
// all freed: exactly the order-9 blocks a buddy that merges every free pair
// can hand out. Memory is left as found.
enum class FragPattern {
  Scattered,  // each frame independently: almost no 2 MiB range survives
  Clustered,  // alternating runs of 1..2048 frames freed and kept
};
const char* frag_pattern_name(FragPattern p);

struct HighOrderResult {
  uint64_t filled = 0;     // order-0 blocks taken by the fill
  uint64_t freed = 0;      // of which freed again
  uint64_t successes = 0;  // order-9 blocks obtained afterwards
  uint64_t oracle = 0;     // fully free aligned 2 MiB ranges
};
// `observe`, when given, is called with the allocator quiescent at two
// points: "fragmented" (half freed, before the order-9 requests) and
// "order-9" (the order-9 blocks still held); tools/hosted_memdump.cpp dumps
// the memory picture there.
using FragObserver = std::function<void(const char* phase)>;
HighOrderResult high_order_after_fragmentation(PageAllocator& pa, FragPattern pattern,
                                               uint64_t seed, const FragObserver& observe = {});

}  // namespace pf::bench
