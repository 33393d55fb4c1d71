// workloads.cpp — the precomputed parts of the workloads: free orders and
// the mixed-order trace. See workloads.hpp.
#include "workloads.hpp"

namespace pf::bench {

const char* free_order_name(FreeOrder o) {
  switch (o) {
    case FreeOrder::Allocation: return "alloc_order";
    case FreeOrder::Reverse: return "reverse";
    case FreeOrder::Random: return "random";
  }
  return "?";
}

std::vector<uint32_t> free_permutation(size_t n, FreeOrder order) {
  std::vector<uint32_t> perm(n);
  for (size_t i = 0; i < n; ++i)
    perm[i] = static_cast<uint32_t>(order == FreeOrder::Reverse ? n - 1 - i : i);
  if (order == FreeOrder::Random) {
    Rng rng(kSeed ^ n);
    shuffle(std::span<uint32_t>(perm), rng);
  }
  return perm;
}

MixedTrace make_mixed_trace(uint64_t frames, size_t main_ops, uint64_t seed) {
  MixedTrace trace;
  Rng rng(seed);
  const uint64_t target = frames / 2;
  std::vector<uint32_t> live;        // slots holding a block
  std::vector<uint32_t> spare;       // slots free for reuse
  std::vector<uint8_t> slot_order;   // order of the block in each slot
  uint64_t live_frames = 0;
  trace.main.reserve(main_ops);
  for (size_t step = 0; step < main_ops; ++step) {
    const unsigned order = static_cast<unsigned>(rng.below(kOrderCount));
    if (live_frames + (uint64_t{1} << order) <= target) {
      uint32_t slot;
      if (spare.empty()) {
        slot = trace.slot_count++;
        slot_order.push_back(0);
      } else {
        slot = spare.back();
        spare.pop_back();
      }
      slot_order[slot] = static_cast<uint8_t>(order);
      live.push_back(slot);
      live_frames += uint64_t{1} << order;
      trace.main.push_back({slot, static_cast<uint8_t>(order), true});
    } else {
      const size_t i = rng.below(live.size());
      const uint32_t slot = live[i];
      live[i] = live.back();
      live.pop_back();
      live_frames -= uint64_t{1} << slot_order[slot];
      spare.push_back(slot);
      trace.main.push_back({slot, slot_order[slot], false});
    }
  }
  shuffle(std::span<uint32_t>(live), rng);
  for (uint32_t slot : live) trace.tail.push_back({slot, slot_order[slot], false});
  return trace;
}

}  // namespace pf::bench
