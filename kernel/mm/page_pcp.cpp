// page_pcp.cpp — the per-CPU page caches in front of each zone's lock.
//
// Per CPU, per zone, per order 0..kPcpOrders-1: an array stack of blocks in
// state Cached (a {frame, descriptor} pair per slot, so a hand-out is a pop
// and one state flip, with no lookup). Sizing (page_alloc.hpp): an empty
// stack is refilled with kPcpBatch[k] blocks under one zone-lock hold; a free
// that finds the stack at kPcpHigh[k] first drains the kPcpBatch[k] oldest
// blocks (the bottom of the stack, the coldest) back to the buddy. Order 0:
// batch 32, high 128 (512 KiB per CPU and zone at most).
//
// Invariants:
//   count <= kPcpHigh[k]; every slot below count holds the head of a block of
//   order k in this zone whose descriptor is Cached with order k;
//   a Cached block is counted free (zone free = buddy + every stack).
// Access (cpu_cache.hpp): the owner's fast path through its CpuGate; its slow
// paths under the gate's lock; anyone else (drains of another CPU, verify)
// stops the owner through the gate. The shared cache (index cpu_count, for
// callers without a CPU) is used under its gate's lock only.
// Lock order: the CPU's gate, then (refill, drain) the zone lock.
#include "error.hpp"
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::peek;

// The fast paths (alloc_pages, free_pages) are inline in page_alloc.hpp:
// this CPU's gate, a pop or a push, one state flip. What follows runs with
// the CPU's data held through CpuAccess (its lock; a stop for another CPU).

PhysAddr PageAllocator::alloc_cached(Zone z, Order order) {
  const unsigned cpu = this_cpu();
  auto held = hold(cpu);
  PcpStack& s = cpus_[cpu].stacks[static_cast<unsigned>(z)][order.value];
  if (__builtin_expect(s.size() == 0, 0) && refill(s, z, order) == 0) return PhysAddr{};
  const PcpSlot slot = s.pop();
  set_frame_state(*slot.desc, FrameState::Allocated);
  return pf::to_phys(Pfn{slot.pfn});
}

void PageAllocator::free_cached(Range& r, Pfn pfn, FrameDescriptor& d, Order order) {
  const unsigned cpu = this_cpu();
  auto held = hold(cpu);
  const unsigned k = order.value;
  PcpStack& s = cpus_[cpu].stacks[static_cast<unsigned>(r.zone)][k];
  if (__builtin_expect(s.size() == kPcpHigh[k], 0)) drain_stack(s, r.zone, order, kPcpBatch[k]);
  to_cached(d);
  s.push(PcpSlot{pfn.value, &d});
}

size_t PageAllocator::alloc_pages_bulk(Order order, gfp_t flags, size_t count, PhysAddr* out) {
  size_t n = 0;
  const unsigned k = order.value;
  const unsigned zone_plus_one = detail::load_relaxed(first_zone_[flags & kZoneFlags]);
  if (k < kPcpOrders && zone_plus_one != 0 && peek(fail_at_) == 0) {
    // Whole stacks at a time from this CPU's cache, refilled as it empties.
    const auto z = static_cast<Zone>(zone_plus_one - 1);
    const unsigned cpu = this_cpu();
    auto held = hold(cpu);
    PcpStack& s = cpus_[cpu].stacks[zone_plus_one - 1][k];
    while (n < count) {
      if (s.size() == 0 && refill(s, z, order) == 0) break;
      while (n < count && s.size() != 0) {
        const PcpSlot slot = s.pop();
        set_frame_state(*slot.desc, FrameState::Allocated);
        out[n++] = pf::to_phys(Pfn{slot.pfn});
      }
    }
    if (flags & __GFP_ZERO)
      for (size_t i = 0; i < n; ++i) __builtin_memset(phys_.to_virt<void>(out[i]), 0, order.bytes());
  }
  // The rest one by one: other zones, larger orders, the last-resort drain.
  for (; n < count; ++n) {
    out[n] = alloc_pages(order, flags | (n == 0 ? 0 : __GFP_NOWARN));
    if (out[n].is_null()) break;
  }
  return n;
}

// The CPU's data is held; the stack is empty.
uint32_t PageAllocator::refill(PcpStack& s, Zone z, Order order) {
  ZoneArea& zs = zone(z);
  LockGuard guard(zs.lock());
  uint32_t n = 0;
  for (; n < kPcpBatch[order.value]; ++n) {
    const ZoneArea::Block b = zs.take(order, FrameState::Cached);
    if (b.range == nullptr) break;
    s.slots[n] = PcpSlot{b.pfn.value, &b.range->at(b.pfn)};
  }
  // Reversed, so the first block taken (lowest address) is handed out first.
  s.reverse(n);
  s.set_size(n);
  return n;
}

// The CPU's data is held. Gives the `count` oldest blocks (the bottom of the
// stack) back to the buddy and slides the rest down.
void PageAllocator::drain_stack(PcpStack& s, Zone z, Order order, uint32_t count) {
  const uint32_t n = s.size();
  if (count > n) count = n;
  if (count == 0) return;
  {
    ZoneArea& zs = zone(z);
    LockGuard guard(zs.lock());
    for (uint32_t i = 0; i < count; ++i) {
      Range* r = find_range(s.slots[i].pfn);
      PF_ASSERT(r != nullptr && r->zone == z);
      zs.give(*r, Pfn{s.slots[i].pfn}, order);
    }
  }
  s.drop_bottom(count);
}

void PageAllocator::drain_held(CpuCache& c) {
  for (unsigned z = 0; z < kZoneCount; ++z) {
    if (zones_[z].empty()) continue;
    for (unsigned k = 0; k < kPcpOrders; ++k) {
      PcpStack& s = c.stacks[z][k];
      drain_stack(s, static_cast<Zone>(z), Order{k}, s.size());
    }
  }
}

void PageAllocator::drain_cpu_cache(unsigned cpu) {
  if (cpus_ == nullptr || cpu > cpu_count_) return;
  auto held = hold(cpu);
  drain_held(cpus_[cpu]);
}

void PageAllocator::drain_cpu_caches() {
  for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) drain_cpu_cache(cpu);
}

}  // namespace pf
