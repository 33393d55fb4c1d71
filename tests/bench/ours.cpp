// ours.cpp — high order after fragmentation, with its oracle. See ours.hpp.
#include "ours.hpp"

#include <algorithm>
#include <vector>

#include "workloads.hpp"

namespace pf::bench {

const char* frag_pattern_name(FragPattern p) {
  return p == FragPattern::Scattered ? "scattered" : "clustered";
}

HighOrderResult high_order_after_fragmentation(PageAllocator& pa, FragPattern pattern,
                                               uint64_t seed, const FragObserver& observe) {
  HighOrderResult r;
  Rng rng(seed);
  std::vector<PhysAddr> held;
  held.reserve(pa.counters().free_frames);
  for (;;) {
    PhysAddr p = pa.alloc_pages(Order{0}, GFP_KERNEL | __GFP_NOWARN);
    if (p.is_null()) break;
    held.push_back(p);
  }
  r.filled = held.size();
  std::sort(held.begin(), held.end());

  // Which frames to free (by position in address order).
  std::vector<uint8_t> free_it(held.size(), 0);
  if (pattern == FragPattern::Scattered) {
    std::vector<uint32_t> idx(held.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<uint32_t>(i);
    shuffle(std::span<uint32_t>(idx), rng);
    for (size_t i = 0; i < idx.size() / 2; ++i) free_it[idx[i]] = 1;
  } else {
    bool freeing = (rng.next() & 1) != 0;
    for (size_t i = 0; i < held.size();) {
      size_t run = 1 + rng.below(2048);
      for (size_t j = 0; j < run && i < held.size(); ++j, ++i) free_it[i] = freeing ? 1 : 0;
      freeing = !freeing;
    }
  }

  std::vector<PhysAddr> to_free, kept;
  for (size_t i = 0; i < held.size(); ++i) (free_it[i] ? to_free : kept).push_back(held[i]);
  r.freed = to_free.size();

  // The oracle, from what was freed alone: frames never handed out by the
  // fill (reserved, unmanaged) are not free, so their ranges never count.
  if (!to_free.empty()) {
    const uint64_t base = to_pfn(to_free.front()).value & ~uint64_t{511};
    const uint64_t span = to_pfn(to_free.back()).value + 1 - base;
    std::vector<uint8_t> is_free(span, 0);
    for (PhysAddr p : to_free) is_free[to_pfn(p).value - base] = 1;
    for (uint64_t w = 0; w + 512 <= span; w += 512) {
      bool all = true;
      for (uint64_t f = w; f < w + 512 && all; ++f) all = is_free[f] != 0;
      r.oracle += all ? 1 : 0;
    }
  }

  shuffle(std::span<PhysAddr>(to_free), rng);
  for (PhysAddr p : to_free) pa.free_pages(p, Order{0});
  if (observe) {
    pa.drain_cpu_caches();
    observe("fragmented");
  }

  std::vector<PhysAddr> big;
  for (;;) {
    PhysAddr p = pa.alloc_pages(Order{9}, GFP_KERNEL | __GFP_NOWARN);
    if (p.is_null()) break;
    big.push_back(p);
  }
  r.successes = big.size();
  if (observe) observe("order-9");

  for (PhysAddr p : big) pa.free_pages(p, Order{9});
  for (PhysAddr p : kept) pa.free_pages(p, Order{0});
  return r;
}

}  // namespace pf::bench
