// page_pcp.cpp — the per-CPU page caches in front of each zone's lock.
//
// Per CPU, per zone, per order 0..kPcpOrders-1: an array stack of blocks in
// state Cached (an {address, descriptor} pair per slot, so a hand-out is a
// pop and one 8-byte store of the descriptor's second word, frame.hpp
// hand_out, with no lookup; the address is what alloc_pages returns).
// Sizing (page_alloc.hpp): an empty stack is refilled with kPcpBatch[k]
// blocks (fewer in a zone under 8 MiB, pcp_refill_batch) under one
// zone-lock hold; a free
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
// Remote queues (one per CPU, page_alloc.cpp "Frees on two CPUs"): filled by
// other CPUs' frees under the queue's lock; collected into this CPU's
// stacks with its data held (its empty-stack slow path, drains): the full
// token buffer is swapped out under the queue lock and walked without it;
// an allocation's collect stops at a block whose stack is full and leaves
// the rest pending for the next one (no drain to the zone and refill back).
// Lock order: the CPU's gate, then its remote queue's lock, then (refill,
// drain) the zone lock.
#include "error.hpp"
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::drop;
using detail::peek;

// The fast paths (alloc_pages, free_pages) are inline in page_alloc.hpp:
// this CPU's gate, a pop or a push, one state flip. What follows runs with
// the CPU's data held through CpuAccess (its lock; a stop for another CPU).

PhysAddr PageAllocator::alloc_cached(Zone z, Order order) {
  const unsigned cpu = this_cpu();
  Rejected rejected;
  PhysAddr p;
  {
    auto held = hold(cpu);
    PcpStack& s = cpus_[cpu].stacks[static_cast<unsigned>(z)][order.value];
    // Blocks other CPUs freed for us come back before the zone is asked.
    if (s.size() == 0 && cpu < cpu_count_) collect_remote(cpu, rejected, false);
    if (s.size() != 0 || refill(s, z, order) != 0) {
      const PcpSlot slot = s.pop();
      hand_out(*slot.desc, order.value, home_tag(cpu));
      p = PhysAddr{slot.phys};
    }
  }
  report_rejected(rejected);
  return p;
}

// The CPU's data is held and `d` is this cache's to take (claimed, or freed
// by its home CPU): into the stack, draining a batch first if it is full.
void PageAllocator::push_cached(CpuCache& c, Range& r, Pfn pfn, FrameDescriptor& d, Order order) {
  const unsigned k = order.value;
  PcpStack& s = c.stacks[static_cast<unsigned>(r.zone)][k];
  if (__builtin_expect(s.size() == kPcpHigh[k], 0)) drain_stack(s, r.zone, order, kPcpBatch[k]);
  to_cached(d);
  s.push(PcpSlot{pf::to_phys(pfn).value, &d});
}

// CPU `cpu`'s data is held (its own slow path, or a stopper's CpuAccess),
// so its local frees are not running, and no other collect of this queue
// can run (every collect holds the CPU's data). Under the queue's lock the
// full buffer is swapped for the empty one (remote frees go on filling that
// one meanwhile); its tokens are then walked without the lock. A token whose
// block is still RemoteFreed and homed here is a remote free nobody
// contested, and nobody else can move the block out of RemoteFreed now, so
// a plain store takes it (RemoteFreed -> Cached): the other writers that run
// meanwhile are other remote frees' claims and ownerless frees, compare-and-
// swaps from Allocated, which fail on it; the home CPU's plain local free,
// the one writer that does not compare, is excluded by holding its data,
// and only this CPU's collect (serialised by its data) leaves RemoteFreed.
// What the freeing CPU wrote before its claim is visible through the queue
// lock (its push's unlock, this swap's lock). Anything
// else means the block was freed again meanwhile by its home CPU's plain
// path (which overwrote the claim), so the token's free was the second one.
// Tokens are interchangeable: two tokens for one block (a claim overwritten,
// the block handed out and claimed again) resolve as one acceptance and one
// report. A stale token never takes a block homed on another CPU (that
// CPU's local free may be in flight, and only its own collect is excluded
// from it).
// The walk's cost is one cold descriptor per token (the freeing CPU wrote
// it last), so descriptors are prefetched kCollectAhead tokens ahead.
void PageAllocator::collect_remote(unsigned cpu, Rejected& out, bool all) {
  RemoteQueue& q = remote_[cpu];
  CpuCache& c = cpus_[cpu];
  constexpr uint32_t kCollectAhead = 8;
  // Two passes at most: what was pending, then one swap (or two swaps if
  // nothing was pending), so every token queued before the call is walked
  // (or, all == false, left pending) and remote frees that go on meanwhile
  // cannot keep a drain or a stopper here.
  for (unsigned pass = 0; pass < 2; ++pass) {
    if (q.pend_at == q.pend_end) {
      LockGuard guard(q.lock);
      const uint32_t n = q.count;
      if (n == 0) return;
      q.fill ^= 1u;  // the full buffer becomes the pending one
      q.count = 0;
      q.pend_at = 0;
      q.pend_end = n;
      // The frames stay counted free, as `collecting` until pushed (it was
      // 0: nothing was pending).
      for (unsigned z = 0; z < kZoneCount; ++z) {
        q.collecting[z].store(peek(q.frames[z]), std::memory_order_relaxed);
        q.frames[z].store(0, std::memory_order_relaxed);
      }
    }
    const uint64_t* tokens = q.pending();
    const uint32_t n = q.pend_end;
    auto prefetch = [&](uint32_t i) {
      if (i < n) __builtin_prefetch(descriptor(Pfn{token_pfn(tokens[i])}), 1, 3);
    };
    for (uint32_t i = q.pend_at; i < q.pend_at + kCollectAhead; ++i) prefetch(i);
    for (uint32_t i = q.pend_at; i < n; ++i) {
      prefetch(i + kCollectAhead);
      const uint64_t pfn = token_pfn(tokens[i]);
      Range* r = find_range(pfn);
      PF_ASSERT(r != nullptr);
      FrameDescriptor& d = r->desc[pfn - r->base];
      const bool valid = frame_state(d) == FrameState::RemoteFreed && home_of(d) == home_cpu_tag(cpu);
      const unsigned k = frame_order(d);
      if (valid && !all && c.stacks[static_cast<unsigned>(r->zone)][k].size() == kPcpHigh[k]) {
        q.pend_at = i;  // no room: the rest waits for the next collect
        return;
      }
      drop<uint64_t>(q.collecting[static_cast<unsigned>(r->zone)], uint64_t{1} << token_order(tokens[i]));
      if (!valid) {
        if (out.count < kRejectedNamed) out.pfn[out.count] = pfn;
        ++out.count;
        continue;
      }
      // Ours alone (nobody else can move it out of RemoteFreed now): onto
      // this CPU's stack of the block's own order, Cached by a plain store.
      push_cached(c, *r, Pfn{pfn}, d, Order{k});
    }
    q.pend_at = q.pend_end;
  }
}

void PageAllocator::collect_cpu(unsigned cpu) {
  Rejected rejected;
  {
    auto held = hold(cpu);
    collect_remote(cpu, rejected, true);
  }
  report_rejected(rejected);
}

void PageAllocator::report_rejected(const Rejected& r) const {
  for (uint32_t i = 0; i < r.count && i < kRejectedNamed; ++i)
    report({.code = ErrorCode::PageDoubleFree,
            .detail = "free_pages: block freed on two CPUs at once (the other free took it; found "
                      "when its home CPU collected this one)",
            .address = r.pfn[i] << kPageShift,
            .pfn = r.pfn[i]});
  if (r.count > kRejectedNamed)
    report({.code = ErrorCode::PageDoubleFree,
            .detail = "free_pages: and more blocks freed on two CPUs at once, found in the same "
                      "collect (not named)"});
}

size_t PageAllocator::alloc_pages_bulk(Order order, gfp_t flags, size_t count, PhysAddr* out,
                                       const void* caller) {
  size_t n = 0;
  if (caller == nullptr) caller = PF_CALLER;
  if (out == nullptr && count != 0) {
    report({.code = ErrorCode::InvalidArgument, .detail = "alloc_pages_bulk: no array for the blocks",
            .caller = caller});
    return 0;
  }
  if (!gfp_valid(flags)) {
    report_bad_gfp(flags, "alloc_pages_bulk", caller);
    return 0;
  }
  const unsigned k = order.value;
  const unsigned zone_plus_one = detail::load_relaxed(first_zone_[flags & kZoneFlags]);
  // (A refused route names an empty zone: refill finds nothing there.)
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
        hand_out(*slot.desc, k, home_tag(cpu));
        out[n++] = PhysAddr{slot.phys};
      }
    }
    if (flags & __GFP_ZERO)
      for (size_t i = 0; i < n; ++i) __builtin_memset(phys_.to_virt<void>(out[i]), 0, order.bytes());
  }
  // The rest one by one: other zones, larger orders, the last-resort drain.
  for (; n < count; ++n) {
    out[n] = alloc_pages(order, flags | (n == 0 ? 0 : __GFP_NOWARN), caller);
    if (out[n].is_null()) break;
  }
  return n;
}

// The CPU's data is held; the stack is empty.
uint32_t PageAllocator::refill(PcpStack& s, Zone z, Order order) {
  ZoneArea& zs = zone(z);
  LockGuard guard(zs.lock());
  const uint32_t batch = pcp_refill_batch(zs.managed(), order.value);
  uint32_t n = 0;
  for (; n < batch; ++n) {
    const ZoneArea::Block b = zs.take(order, FrameState::Cached);
    if (b.range == nullptr) break;
    s.slots[n] = PcpSlot{pf::to_phys(b.pfn).value, &b.range->at(b.pfn)};
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
      Range* r = find_range(s.slots[i].pfn());
      PF_ASSERT(r != nullptr && r->zone == z);
      zs.give(*r, Pfn{s.slots[i].pfn()}, order);
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
  if (!initialised_ || cpu > cpu_count_) return;
  Rejected rejected;
  {
    auto held = hold(cpu);
    if (cpu < cpu_count_) collect_remote(cpu, rejected, true);
    drain_held(cpus_[cpu]);
  }
  report_rejected(rejected);
}

void PageAllocator::drain_cpu_caches() {
  for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) drain_cpu_cache(cpu);
}

}  // namespace pf
