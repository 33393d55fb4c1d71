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
// Lock order: this CPU's cache lock, then (refill, drain) the zone lock. The
// cache lock is uncontended except against verify() and drains from another
// CPU; in the hosted build it also guards against a thread preempted mid-
// operation while another thread runs on the same CPU slot.
#include "error.hpp"
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::peek;

// ---- the fast paths: alloc_pages and free_pages of a small order --------------
// One cache lock, a pop or a push, one state flip: no division, no shared
// atomics. Anything else (an empty stack, a full one, a large order, a
// fallback, fault injection, misuse) goes to the slow paths.

PhysAddr PageAllocator::alloc_pages(Order order, gfp_t flags, const void* caller) {
  const unsigned k = order.value;
  const unsigned zone_plus_one = first_zone_[flags & kZoneFlags];
  if (__builtin_expect(k < kPcpOrders && zone_plus_one != 0 && peek(fail_at_) == 0, 1)) {
    CpuCache& c = cpus_[this_cpu()];
    PhysAddr p;
    {
      LockGuard guard(c.lock);
      PcpStack& s = c.stacks[zone_plus_one - 1][k];
      const uint32_t n = peek(s.count);
      if (__builtin_expect(n != 0, 1)) {
        const PcpSlot slot = s.slots[n - 1];
        s.count.store(n - 1, std::memory_order_relaxed);
        set_frame_state(*slot.desc, FrameState::Allocated);
        p = pf::to_phys(Pfn{slot.pfn});
      }
    }
    if (__builtin_expect(!p.is_null(), 1)) {
      if (flags & __GFP_ZERO) __builtin_memset(phys_.to_virt<void>(p), 0, order.bytes());
      return p;
    }
  }
  return alloc_slow(order, flags, caller != nullptr ? caller : PF_CALLER);
}

void PageAllocator::free_pages(PhysAddr phys, Order order, const void* caller) {
  const uint64_t pfn = phys.value >> kPageShift;
  Range* r = find_range(pfn);
  const unsigned k = order.value;
  // One mask checks page alignment and block alignment together.
  if (__builtin_expect(r != nullptr && k < kPcpOrders && (phys.value & ((kPageSize << k) - 1)) == 0, 1)) {
    FrameDescriptor& d = r->desc[pfn - r->base];
    const FrameState st = frame_state(d);
    if (__builtin_expect(d.order == k && (st == FrameState::Slab ||
                                          (st == FrameState::Allocated && d.owner != kOwnerContig)),
                         1)) {
      CpuCache& c = cpus_[this_cpu()];
      LockGuard guard(c.lock);
      PcpStack& s = c.stacks[static_cast<unsigned>(r->zone)][k];
      const uint32_t n = peek(s.count);
      if (__builtin_expect(n < kPcpHigh[k], 1)) {
        d.owner = 0;
        d.aux = 0;
        set_frame_state(d, FrameState::Cached);
        s.slots[n] = PcpSlot{pfn, &d};
        s.count.store(n + 1, std::memory_order_relaxed);
        return;
      }
    }
  }
  free_slow(r, phys, order, caller != nullptr ? caller : PF_CALLER);
}

PhysAddr PageAllocator::alloc_cached(Zone z, unsigned order) {
  CpuCache& c = cpus_[this_cpu()];
  LockGuard guard(c.lock);
  PcpStack& s = c.stacks[static_cast<unsigned>(z)][order];
  uint32_t n = peek(s.count);
  if (__builtin_expect(n == 0, 0)) {
    n = refill(s, z, order);
    if (n == 0) return PhysAddr{};
  }
  --n;
  const PcpSlot slot = s.slots[n];
  s.count.store(n, std::memory_order_relaxed);
  set_frame_state(*slot.desc, FrameState::Allocated);
  return pf::to_phys(Pfn{slot.pfn});
}

void PageAllocator::free_cached(Range& r, uint64_t pfn, FrameDescriptor& d, unsigned order) {
  CpuCache& c = cpus_[this_cpu()];
  LockGuard guard(c.lock);
  PcpStack& s = c.stacks[static_cast<unsigned>(r.zone)][order];
  uint32_t n = peek(s.count);
  if (__builtin_expect(n == kPcpHigh[order], 0)) {
    drain_stack(s, r.zone, order, kPcpBatch[order]);
    n -= kPcpBatch[order];
  }
  d.owner = 0;
  d.aux = 0;
  set_frame_state(d, FrameState::Cached);
  s.slots[n] = PcpSlot{pfn, &d};
  s.count.store(n + 1, std::memory_order_relaxed);
}

// The CPU's cache lock is held; the stack is empty.
uint32_t PageAllocator::refill(PcpStack& s, Zone z, unsigned order) {
  ZoneState& zs = zones_[static_cast<unsigned>(z)];
  LockGuard guard(zs.lock);
  uint32_t n = 0;
  for (; n < kPcpBatch[order]; ++n) {
    const Placement p = take_block(z, order, FrameState::Cached);
    if (p.range == nullptr) break;
    s.slots[n] = PcpSlot{p.pfn, &p.range->desc[p.pfn - p.range->base]};
  }
  // Reversed, so the first block taken (lowest address) is handed out first.
  for (uint32_t i = 0; i < n / 2; ++i) {
    const PcpSlot t = s.slots[i];
    s.slots[i] = s.slots[n - 1 - i];
    s.slots[n - 1 - i] = t;
  }
  s.count.store(n, std::memory_order_relaxed);
  return n;
}

// The CPU's cache lock is held. Gives the `count` oldest blocks (the bottom
// of the stack) back to the buddy and slides the rest down.
void PageAllocator::drain_stack(PcpStack& s, Zone z, unsigned order, uint32_t count) {
  const uint32_t n = peek(s.count);
  if (count > n) count = n;
  if (count == 0) return;
  {
    ZoneState& zs = zones_[static_cast<unsigned>(z)];
    LockGuard guard(zs.lock);
    for (uint32_t i = 0; i < count; ++i) {
      Range* r = find_range(s.slots[i].pfn);
      PF_ASSERT(r != nullptr && r->zone == z);
      give_block(*r, s.slots[i].pfn, order);
    }
  }
  for (uint32_t i = count; i < n; ++i) s.slots[i - count] = s.slots[i];
  s.count.store(n - count, std::memory_order_relaxed);
}

void PageAllocator::drain_locked(CpuCache& c) {
  for (unsigned z = 0; z < kZoneCount; ++z) {
    if (zones_[z].end_range == zones_[z].first_range) continue;
    for (unsigned k = 0; k < kPcpOrders; ++k) {
      PcpStack& s = c.stacks[z][k];
      drain_stack(s, static_cast<Zone>(z), k, peek(s.count));
    }
  }
}

void PageAllocator::drain_cpu_cache(unsigned cpu) {
  if (cpus_ == nullptr || cpu >= cpu_count_) return;
  LockGuard guard(cpus_[cpu].lock);
  drain_locked(cpus_[cpu]);
}

void PageAllocator::drain_cpu_caches() {
  for (unsigned cpu = 0; cpu < cpu_count_; ++cpu) drain_cpu_cache(cpu);
}

}  // namespace pf
