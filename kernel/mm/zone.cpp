// zone.cpp — ZoneArea: the buddy of one zone (per-range free lists, split on
// take, merge on give) and its counters. Every function but zone_name runs
// with the zone's lock held (see zone.hpp for the invariants and names).
//
// A Free block of order k at frame p: p % 2^k == 0, [p, p + 2^k) inside its
// range, head state Free with order k, the other 2^k - 1 frames Tail, and it
// is on its range's list k exactly once; after every give(), no two free
// buddies of one order coexist.
#include "zone.hpp"

#include <bit>

#include "error.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::bump;
using detail::drop;
using detail::peek;

const char* zone_name(Zone z) {
  switch (z) {
    case Zone::Dma: return "DMA";
    case Zone::Dma32: return "DMA32";
    case Zone::Normal: return "Normal";
  }
  return "?";
}

void ZoneArea::push(Range& r, Pfn p, Order order) {
  const unsigned k = order.value;
  const auto idx = static_cast<uint32_t>(p.value - r.base);
  FrameDescriptor& d = r.desc[idx];
  const uint32_t head = r.head[k];
  d.link_next = head;
  d.link_prev = kNoLink;
  set_frame_owner(d, 0);
  set_home(d, kNoHomeCpu);
  set_frame_order(d, static_cast<uint8_t>(order.value));
  set_frame_state(d, FrameState::Free);
  if (head != kNoLink) r.desc[head].link_prev = idx;
  r.head[k] = idx;
  r.nonempty |= 1u << k;
  bump<uint64_t>(blocks_[k], 1);
  bump<uint64_t>(free_buddy_, order.frames());
  nonempty_ |= 1u << k;
}

void ZoneArea::remove(Range& r, Pfn p, Order order) {
  const unsigned k = order.value;
  const FrameDescriptor& d = r.at(p);
  if (d.link_prev != kNoLink)
    r.desc[d.link_prev].link_next = d.link_next;
  else
    r.head[k] = d.link_next;
  if (d.link_next != kNoLink) r.desc[d.link_next].link_prev = d.link_prev;
  if (r.head[k] == kNoLink) r.nonempty &= ~(1u << k);
  drop<uint64_t>(blocks_[k], 1);
  drop<uint64_t>(free_buddy_, order.frames());
  if (peek(blocks_[k]) == 0) nonempty_ &= ~(1u << k);
}

ZoneArea::Block ZoneArea::take(Order order, FrameState as) {
  const uint32_t avail = nonempty_ >> order.value;
  if (avail == 0) return {};
  // The smallest order that has a block anywhere in the zone: split as
  // little as possible, like a single per-zone list would.
  Order k{order.value + static_cast<unsigned>(std::countr_zero(avail))};
  for (uint32_t i = first_range_; i < end_range_; ++i) {
    Range& r = table_[i];
    if ((r.nonempty & (1u << k.value)) == 0) continue;
    const Pfn p{r.base + r.head[k.value]};
    remove(r, p, k);
    while (k > order) {  // split: keep the lower half, free the upper one
      k = Order{k.value - 1u};
      push(r, p + k.frames(), k);
    }
    FrameDescriptor& d = r.at(p);
    d.link_next = 0;
    d.link_prev = 0;
    set_frame_owner(d, 0);
    set_home(d, kNoHomeCpu);
    set_frame_order(d, static_cast<uint8_t>(order.value));
    set_frame_state(d, as);
    return {&r, p};
  }
  PF_ASSERT(!"zone summary says a block is free but no range has one");
  return {};
}

void ZoneArea::give(Range& r, Pfn p, Order order) {
  while (order.value < kMaxOrder) {
    const Pfn buddy{p.value ^ order.frames()};
    if (buddy.value < r.base || buddy.value + order.frames() > r.end) break;
    FrameDescriptor& b = r.at(buddy);
    if (frame_state(b) != FrameState::Free || frame_order(b) != order.value) break;
    remove(r, buddy, order);
    // The merged block's head is the lower of the two; the other becomes Tail.
    detail::clear_to_tail(buddy < p ? r.at(p) : b);
    p = buddy < p ? buddy : p;
    order = Order{order.value + 1u};
  }
  push(r, p, order);
}

void ZoneArea::add_managed(uint64_t frames) { bump(managed_, frames); }
void ZoneArea::add_reserved(uint64_t frames) { bump(reserved_, frames); }
void ZoneArea::reserved_to_managed(uint64_t frames) {
  drop(reserved_, frames);
  bump(managed_, frames);
}

const char* ZoneArea::check_counters(const Tally& t) const {
  uint64_t buddy_frames = 0;
  for (unsigned k = 0; k < kOrderCount; ++k) {
    if (t.listed[k] != t.free_heads[k]) return "a Free block is missing from its free list";
    if (t.listed[k] != peek(blocks_[k])) return "zone's free block count disagrees with its lists";
    if (((nonempty_ >> k) & 1u) != (t.listed[k] != 0))
      return "zone's non-empty order mask disagrees with its lists";
    buddy_frames += t.listed[k] << k;
  }
  if (buddy_frames != peek(free_buddy_)) return "zone's free frame counter disagrees with its lists";
  if (t.reserved != peek(reserved_)) return "zone's reserved counter disagrees with Reserved descriptors";
  if (buddy_frames + t.cached + t.allocated != peek(managed_)) return "free + allocated != managed";
  if (peek(managed_) + peek(reserved_) != t.frames)
    return "managed + reserved != frames in the zone's ranges";
  return nullptr;
}

}  // namespace pf
