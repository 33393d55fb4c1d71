// page_internal.hpp — small helpers shared by the page allocator's source
// files (page_alloc.cpp, zone.cpp, page_pcp.cpp, page_contig.cpp, page_verify.cpp).
// Not part of any public surface.
#pragma once

#include <atomic>
#include <bit>
#include <cstdint>

#include "frame.hpp"
#include "types.hpp"

namespace pf::detail {

// Counters written only under a lock but read without one: a relaxed load
// and store (plain moves on x86-64), never a locked read-modify-write.
template <typename T>
inline void bump(std::atomic<T>& a, T delta) {
  a.store(a.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
}
template <typename T>
inline void drop(std::atomic<T>& a, T delta) {
  a.store(a.load(std::memory_order_relaxed) - delta, std::memory_order_relaxed);
}
template <typename T>
inline T peek(const std::atomic<T>& a) {
  return a.load(std::memory_order_relaxed);
}

// The largest order a block starting at `pfn` may have (natural alignment).
inline unsigned alignment_order(uint64_t pfn) {
  if (pfn == 0) return kMaxOrder;
  unsigned k = static_cast<unsigned>(std::countr_zero(pfn));
  return k < kMaxOrder ? k : kMaxOrder;
}

// Cuts [from, to) into maximal naturally aligned blocks, in address order:
// at each step the largest block that starts aligned and fits. No two of the
// resulting blocks are free buddies of each other, so none would merge.
template <typename Fn>
inline void for_each_aligned_block(uint64_t from, uint64_t to, Fn&& fn) {
  while (from < to) {
    unsigned k = alignment_order(from);
    while ((uint64_t{1} << k) > to - from) --k;
    fn(from, k);
    from += uint64_t{1} << k;
  }
}

// A descriptor returned to the all-zero Tail state (the state written by
// init's bulk zeroing). The state byte goes through set_frame_state.
inline void clear_to_tail(FrameDescriptor& d) {
  d.link_next = 0;
  d.link_prev = 0;
  set_frame_owner(d, 0);
  set_frame_order(d, 0);
  set_home(d, kNoHomeCpu);
  set_frame_state(d, FrameState::Tail);
}

}  // namespace pf::detail
