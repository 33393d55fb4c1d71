// page_cases.cpp — page-allocator conformance cases, written once and run
// under GoogleTest (tests/unit/conformance_test.cpp, PageConformance) and
// inside the booted kernel (kernel/selftest.cpp). Freestanding: no gtest, no
// libc, no std containers; fixed arrays, or lists threaded through the
// allocated frames themselves. Sized for a 128 MiB VM; on a machine of a few
// MiB (the kernel boots down to 2 MiB) a case accepts a null result only
// where the allocator could not have met the request, checked on its state
// (free_block_at_least, contig_possible), and must still get something.
//
// What they cover: exact split and coalesce at every order, exhaustion
// (null, nothing changed) and restore, three free orders, contiguous
// allocation with alignment/boundary/highest address, zone limits and
// __GFP_ZERO, and every always-on misuse check by name.
//
// Each case gives back everything it takes. The runner drains the per-CPU
// caches and checks the free count and verify() after the case; the cases
// drain too where they compare per-order block counts.
#include <cstddef>
#include <cstdint>

#include "kernel/mm/error.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "tests/conformance/facade.hpp"

namespace {

using pf::FrameState;
using pf::Order;
using pf::PageAllocator;
using pf::PhysAddr;
using pf::Zone;
using pf::conformance::Context;
using pf::conformance::Rng;

constexpr unsigned kZones = pf::kZoneCount;
constexpr unsigned kOrders = pf::kOrderCount;

struct BlockCounts {
  uint64_t n[kZones][kOrders];
};

BlockCounts block_counts(const PageAllocator& p) {
  BlockCounts c{};
  for (unsigned z = 0; z < kZones; ++z)
    for (unsigned k = 0; k < kOrders; ++k) c.n[z][k] = p.free_blocks(static_cast<Zone>(z), Order{k});
  return c;
}

bool same(const BlockCounts& a, const BlockCounts& b) {
  for (unsigned z = 0; z < kZones; ++z)
    for (unsigned k = 0; k < kOrders; ++k)
      if (a.n[z][k] != b.n[z][k]) return false;
  return true;
}

bool same(const pf::PageCounters& a, const pf::PageCounters& b) { return a == b; }

FrameState state_of(const PageAllocator& p, PhysAddr a) {
  const pf::FrameDescriptor* d = p.descriptor(pf::to_pfn(a));
  return d != nullptr ? pf::frame_state(*d) : FrameState::Reserved;
}

uint64_t free_frames(const PageAllocator& p) { return p.counters().free_frames; }

// Whether a free block of order k or larger is on a buddy list of a zone at
// or below `top` (what alloc_pages(k) would find, per-CPU caches drained).
bool free_block_at_least(const PageAllocator& p, unsigned k, Zone top = Zone::Normal) {
  for (unsigned z = 0; z <= static_cast<unsigned>(top); ++z)
    for (unsigned o = k; o < kOrders; ++o)
      if (p.free_blocks(static_cast<Zone>(z), Order{o}) != 0) return true;
  return false;
}

// Whether alloc_contig could meet the request on the allocator as it stands
// (per-CPU caches drained): a run of n free frames inside one range of a zone
// at or below `top`, starting at a multiple of align_frames, crossing no
// multiple of boundary_frames (0: none), ending at or below max_pfn (0: no
// limit). Walks every block head: for the cases' small-machine excuses only
// (a failure on a machine that could not have met the request is no failure).
bool contig_possible(const PageAllocator& p, uint64_t n, uint64_t align_frames, uint64_t boundary_frames,
                     uint64_t max_pfn, Zone top = Zone::Normal) {
  auto fits = [&](uint64_t a, uint64_t b) {  // a free run [a, b)
    for (uint64_t s = (a + align_frames - 1) / align_frames * align_frames; s + n <= b;) {
      if (boundary_frames != 0 && s / boundary_frames != (s + n - 1) / boundary_frames) {
        const uint64_t next = (s / boundary_frames + 1) * boundary_frames;
        s = (next + align_frames - 1) / align_frames * align_frames;
        continue;
      }
      return max_pfn == 0 || s + n <= max_pfn;
    }
    return false;
  };
  for (size_t i = 0; i < p.range_count(); ++i) {
    const PageAllocator::RangeInfo r = p.range_info(i);
    if (static_cast<unsigned>(r.zone) > static_cast<unsigned>(top)) continue;
    const uint64_t end = pf::to_pfn(r.end).value;
    uint64_t run = ~uint64_t{0};
    for (uint64_t pfn = pf::to_pfn(r.base).value; pfn < end;) {
      const pf::FrameDescriptor* d = p.descriptor(pf::Pfn{pfn});
      const FrameState st = d != nullptr ? pf::frame_state(*d) : FrameState::Reserved;
      const bool head = st != FrameState::Tail && st != FrameState::Reserved;
      const uint64_t len = head ? uint64_t{1} << pf::frame_order(*d) : 1;
      if (st == FrameState::Free) {
        if (run == ~uint64_t{0}) run = pfn;
      } else if (run != ~uint64_t{0}) {
        if (fits(run, pfn)) return true;
        run = ~uint64_t{0};
      }
      pfn += len;
    }
    if (run != ~uint64_t{0} && fits(run, end)) return true;
  }
  return false;
}

}  // namespace

// Allocating order k splits, freeing it (and draining) coalesces back to the
// very same blocks; the head is Allocated with its order, the rest Tail.
PF_CONFORMANCE_CASE(page_split_coalesce_every_order) {
  PageAllocator& p = ctx.pages;
  p.drain_cpu_caches();
  const BlockCounts start = block_counts(p);
  // The largest order with a free block: on a small machine (a VM of 8 MiB,
  // the kernel at 1 MiB) no block of kMaxOrder exists, and asking for one
  // must fail and change nothing.
  // (-1 with nothing free at all: every order must fail then.)
  int largest = -1;
  for (unsigned z = 0; z < kZones; ++z)
    for (unsigned k = 0; k < kOrders; ++k)
      if (start.n[z][k] != 0 && static_cast<int>(k) > largest) largest = static_cast<int>(k);
  for (unsigned k = 0; k <= pf::kMaxOrder; ++k) {
    const uint64_t before = free_frames(p);
    const PhysAddr a = p.alloc_pages(Order{k}, __GFP_NOWARN);
    if (static_cast<int>(k) > largest) {
      PF_CHECK(ctx, a.is_null());
      PF_CHECK(ctx, free_frames(p) == before);
      p.drain_cpu_caches();
      PF_CHECK(ctx, same(block_counts(p), start));
      continue;
    }
    if (!PF_CHECK(ctx, !a.is_null())) continue;
    PF_CHECK(ctx, pf::block_aligned(pf::to_pfn(a), Order{k}));
    PF_CHECK(ctx, free_frames(p) == before - Order{k}.frames());
    const pf::FrameDescriptor* d = p.descriptor(pf::to_pfn(a));
    if (PF_CHECK(ctx, d != nullptr)) {
      PF_CHECK(ctx, pf::frame_state(*d) == FrameState::Allocated);
      PF_CHECK(ctx, d->order == k);
    }
    if (k > 0) {
      PF_CHECK(ctx, state_of(p, a + pf::kPageSize) == FrameState::Tail);
      PF_CHECK(ctx, state_of(p, a + (Order{k}.frames() - 1) * pf::kPageSize) == FrameState::Tail);
    }
    PF_CHECK(ctx, p.verify());
    p.free_pages(a, Order{k});
    PF_CHECK(ctx, free_frames(p) == before);
    p.drain_cpu_caches();
    PF_CHECK(ctx, same(block_counts(p), start));
    PF_CHECK(ctx, p.verify());
  }
}

// Take every frame (the blocks are chained through their own first words),
// check that failing requests change nothing, then give everything back.
PF_CONFORMANCE_CASE(page_exhaust_and_restore) {
  PageAllocator& p = ctx.pages;
  p.drain_cpu_caches();
  const uint64_t start = free_frames(p);
  const BlockCounts start_blocks = block_counts(p);
  PhysAddr chain{};
  uint64_t taken = 0;
  // Largest order first: once order k fails no free block of order >= k is
  // left, so memory runs out in about (free frames / 1024) allocations, which
  // keeps the case quick on a 6 GiB machine under emulation.
  for (int k = pf::kMaxOrder; k >= 0; --k) {
    for (;;) {
      const PhysAddr a = p.alloc_pages(Order{static_cast<unsigned>(k)}, __GFP_NOWARN);
      if (a.is_null()) break;
      auto* words = p.to_virt<uint64_t>(a);
      words[0] = chain.value;
      words[1] = static_cast<uint64_t>(k);
      chain = a;
      taken += Order{static_cast<unsigned>(k)}.frames();
    }
  }
  PF_CHECK(ctx, taken == start);
  PF_CHECK(ctx, free_frames(p) == 0);
  PF_CHECK(ctx, p.largest_free_order() == -1);
  const pf::PageCounters full = p.counters();
  for (unsigned k = 0; k <= pf::kMaxOrder; ++k) PF_CHECK(ctx, p.alloc_pages(Order{k}, __GFP_NOWARN).is_null());
  PF_CHECK(ctx, p.alloc_contig(1, {.flags = __GFP_NOWARN}).is_null());
  PF_CHECK(ctx, same(p.counters(), full));
  PF_CHECK(ctx, p.verify());
  while (!chain.is_null()) {
    const auto* words = p.to_virt<uint64_t>(chain);
    const PhysAddr next{words[0]};
    p.free_pages(chain, Order{static_cast<unsigned>(words[1])});
    chain = next;
  }
  p.drain_cpu_caches();
  PF_CHECK(ctx, free_frames(p) == start);
  PF_CHECK(ctx, same(block_counts(p), start_blocks));
}

// The same random allocations freed in allocation order, in reverse and in
// random order (the seed decides); every block merges back.
PF_CONFORMANCE_CASE(page_three_free_orders) {
  PageAllocator& p = ctx.pages;
  constexpr unsigned kBlocks = 64;
  p.drain_cpu_caches();
  const BlockCounts start = block_counts(p);
  for (unsigned mode = 0; mode < 3; ++mode) {
    Rng rng(ctx.seed + mode);
    PhysAddr addr[kBlocks];
    unsigned order[kBlocks];
    unsigned n = 0;
    bool unexplained_null = false;
    unsigned smallest_refused = pf::kMaxOrder + 1;
    for (unsigned i = 0; i < kBlocks; ++i) {
      const unsigned k = static_cast<unsigned>(rng.below(6));
      const PhysAddr a = p.alloc_pages(Order{k}, __GFP_NOWARN);
      if (a.is_null()) {
        // Only a machine too small for the sequence (a 4 MiB VM) may run
        // out: then no block of order k or above is left anywhere.
        p.drain_cpu_caches();
        unexplained_null = unexplained_null || free_block_at_least(p, k);
        if (k < smallest_refused) smallest_refused = k;
        continue;
      }
      *p.to_virt<uint64_t>(a) = a.value ^ ctx.seed;
      addr[n] = a;
      order[n] = k;
      ++n;
    }
    PF_CHECK(ctx, !unexplained_null);
    // Nothing at all (a few frames free: -m 3M -smp 16 after the APs' stacks).
    if (!PF_CHECK_MEMORY(ctx, n > 0, pf::conformance::MemoryNeed::block(smallest_refused))) return;
    PF_CHECK(ctx, p.verify());
    unsigned idx[kBlocks];
    for (unsigned i = 0; i < n; ++i) idx[i] = mode == 1 ? n - 1 - i : i;
    if (mode == 2)
      for (unsigned i = n; i > 1; --i) {  // Fisher-Yates
        const unsigned j = static_cast<unsigned>(rng.below(i));
        const unsigned t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
      }
    for (unsigned i = 0; i < n; ++i) {
      const unsigned b = idx[i];
      PF_CHECK(ctx, *p.to_virt<uint64_t>(addr[b]) == (addr[b].value ^ ctx.seed));
      p.free_pages(addr[b], Order{order[b]});
      PF_CHECK(ctx, p.verify());
    }
    p.drain_cpu_caches();
    PF_CHECK(ctx, same(block_counts(p), start));
  }
}

// Contiguous ranges: alignment, any count, a 64 KiB boundary, a highest address.
PF_CONFORMANCE_CASE(page_contig_alignment_and_boundary) {
  PageAllocator& p = ctx.pages;
  p.drain_cpu_caches();
  const uint64_t start = free_frames(p);
  const uint64_t counts[] = {1, 3, 5, 17, 100, 1000, 1500};
  // A null result counts as a failure unless the machine could not have met
  // the request (a VM of a few MiB has no free run of 1500 frames).
  constexpr uint64_t k64K = 64 * pf::KiB / pf::kPageSize;  // frames
  unsigned met = 0;
  for (uint64_t n : counts) {
    const PhysAddr a = p.alloc_contig(n, {.align = 64 * pf::KiB, .flags = __GFP_NOWARN});
    if (a.is_null()) {
      PF_CHECK(ctx, !contig_possible(p, n, k64K, 0, 0));
      continue;
    }
    ++met;
    PF_CHECK(ctx, a.value % (64 * pf::KiB) == 0);
    PF_CHECK(ctx, free_frames(p) == start - n);
    PF_CHECK(ctx, state_of(p, a) == FrameState::Allocated);
    p.free_contig(a, n);
    PF_CHECK(ctx, free_frames(p) == start);
  }
  constexpr unsigned kHeld = 24;
  PhysAddr held[kHeld];
  uint64_t frames[kHeld];
  Rng rng(ctx.seed);
  for (unsigned i = 0; i < kHeld; ++i) {
    frames[i] = 1 + rng.below(16);
    held[i] = p.alloc_contig(frames[i], {.boundary = 64 * pf::KiB, .flags = __GFP_NOWARN});
    if (held[i].is_null()) {
      PF_CHECK(ctx, !contig_possible(p, frames[i], 1, k64K, 0));
      continue;
    }
    ++met;
    const uint64_t last = held[i].value + frames[i] * pf::kPageSize - 1;
    PF_CHECK(ctx, held[i].value / (64 * pf::KiB) == last / (64 * pf::KiB));
  }
  PF_CHECK(ctx, p.alloc_contig(17, {.boundary = 64 * pf::KiB, .flags = __GFP_NOWARN}).is_null());
  PF_CHECK(ctx, p.verify());
  for (unsigned i = 0; i < kHeld; ++i)
    if (!held[i].is_null()) p.free_contig(held[i], frames[i]);
  const PhysAddr low = p.alloc_contig(40, {.max_addr = pf::kDmaLimit, .flags = GFP_DMA | __GFP_NOWARN});
  if (low.is_null()) PF_CHECK(ctx, !contig_possible(p, 40, 1, 0, pf::kDmaLimit >> pf::kPageShift, Zone::Dma));
  if (!low.is_null()) {
    ++met;
    PF_CHECK(ctx, low.value + 40 * pf::kPageSize <= pf::kDmaLimit);
    p.free_contig(low, 40);
  }
  // None met at all: only if not even one frame was free (judged).
  PF_CHECK_MEMORY(ctx, met > 0, pf::conformance::MemoryNeed::contig(1));
  p.drain_cpu_caches();
  PF_CHECK(ctx, free_frames(p) == start);
  PF_CHECK(ctx, p.verify());
}

// Zone limits (checked against what this machine has) and __GFP_ZERO.
PF_CONFORMANCE_CASE(page_zone_limits_and_zeroing) {
  PageAllocator& p = ctx.pages;
  const gfp_t limit_flag[kZones] = {GFP_DMA, GFP_DMA32, GFP_KERNEL};
  const uint64_t low[kZones] = {0, pf::kDmaLimit, pf::kDma32Limit};
  const uint64_t high[kZones] = {pf::kDmaLimit, pf::kDma32Limit, ~uint64_t{0}};
  for (unsigned z = 0; z < kZones; ++z) {
    const bool present = p.zone_counters(static_cast<Zone>(z)).free_frames > 0;
    const PhysAddr own = p.alloc_pages(Order{1}, limit_flag[z] | __GFP_THISZONE | __GFP_NOWARN);
    PF_CHECK(ctx, own.is_null() == !present);
    if (!own.is_null()) {
      PF_CHECK(ctx, own.value >= low[z] && own.value + 2 * pf::kPageSize <= high[z]);
      p.free_pages(own, Order{1});
    }
    // With fallback there is memory whenever any zone at or below has some.
    const PhysAddr any = p.alloc_pages(Order{1}, limit_flag[z] | __GFP_NOWARN);
    bool below = false;
    for (unsigned y = 0; y <= z; ++y) below = below || p.zone_counters(static_cast<Zone>(y)).free_frames > 0;
    PF_CHECK(ctx, any.is_null() == !below);
    if (!any.is_null()) {
      PF_CHECK(ctx, any.value + 2 * pf::kPageSize <= high[z]);
      p.free_pages(any, Order{1});
    }
  }
  const unsigned zero_orders[] = {0, 4};
  for (unsigned k : zero_orders) {
    const PhysAddr a = p.alloc_pages(Order{k}, GFP_KERNEL);
    if (!PF_CHECK_MEMORY(ctx, !a.is_null(), pf::conformance::MemoryNeed::block(k))) return;
    auto* bytes = p.to_virt<unsigned char>(a);
    for (uint64_t i = 0; i < Order{k}.bytes(); ++i) bytes[i] = 0xa5;
    p.free_pages(a, Order{k});
    const PhysAddr b = p.alloc_pages(Order{k}, __GFP_ZERO);
    if (!PF_CHECK_MEMORY(ctx, !b.is_null(), pf::conformance::MemoryNeed::block(k))) return;
    const auto* zb = p.to_virt<unsigned char>(b);
    uint64_t nonzero = 0;
    for (uint64_t i = 0; i < Order{k}.bytes(); ++i) nonzero += zb[i] != 0;
    PF_CHECK(ctx, nonzero == 0);
    p.free_pages(b, Order{k});
  }
}

namespace {
struct Seen {
  pf::ErrorCode code = pf::ErrorCode::Count;
  unsigned count = 0;
};
void record(const pf::ErrorReport& r, void* seen) {
  auto* s = static_cast<Seen*>(seen);
  s->code = r.code;
  ++s->count;
}
}  // namespace

// Every always-on page check fires by name, once, and changes nothing.
PF_CONFORMANCE_CASE(page_misuse_is_named_and_refused) {
  PageAllocator& p = ctx.pages;
  // Each judged as it is refused; what was met is given back first.
  const PhysAddr a = p.alloc_pages(Order{2}, GFP_KERNEL);
  if (!PF_CHECK_MEMORY(ctx, !a.is_null(), pf::conformance::MemoryNeed::block(2))) return;
  const PhysAddr f = p.alloc_pages(Order{0}, GFP_KERNEL);
  if (!PF_CHECK_MEMORY(ctx, !f.is_null(), pf::conformance::MemoryNeed::block(0))) {
    p.free_pages(a, Order{2});
    return;
  }
  const PhysAddr c = p.alloc_contig(3, {});
  if (!PF_CHECK_MEMORY(ctx, !c.is_null(), pf::conformance::MemoryNeed::contig(3))) {
    p.free_pages(a, Order{2});
    p.free_pages(f, Order{0});
    return;
  }
  p.free_pages(f, Order{0});
  // A reserved frame: the first descriptor array.
  const PhysAddr reserved = p.range_info(0).descriptors;

  Seen seen;
  const pf::ErrorHandlerSlot old = pf::set_error_handler(&record, &seen);
  struct Misuse {
    pf::ErrorCode code;
    PhysAddr phys;
    unsigned order;
  };
  const Misuse misuses[] = {
      {pf::ErrorCode::PageDoubleFree, f, 0},
      {pf::ErrorCode::PageOutsideManaged, PhysAddr{pf::kPhysAddrLimit - pf::kPageSize}, 0},
      {pf::ErrorCode::PageReserved, reserved, 0},
      {pf::ErrorCode::PageMisaligned, a + 2 * pf::kPageSize, 2},
      {pf::ErrorCode::PageWrongOrder, a, 1},
      {pf::ErrorCode::PageTailFrame, a + pf::kPageSize, 0},
      {pf::ErrorCode::PageBadOrder, a, pf::kOrderCount},
      {pf::ErrorCode::ContigBadFree, c, 0},
  };
  for (const Misuse& m : misuses) {
    const pf::PageCounters before = p.counters();
    seen = Seen{};
    p.free_pages(m.phys, Order{m.order});
    PF_CHECK(ctx, seen.count == 1);
    PF_CHECK(ctx, seen.code == m.code);
    PF_CHECK(ctx, same(p.counters(), before));
  }
  seen = Seen{};
  p.free_contig(c, 2);
  PF_CHECK(ctx, seen.count == 1 && seen.code == pf::ErrorCode::ContigBadFree);
  seen = Seen{};
  p.free_contig(a, 4);
  PF_CHECK(ctx, seen.count == 1 && seen.code == pf::ErrorCode::ContigBadFree);
  seen = Seen{};
  const bool clean = p.verify();
  pf::set_error_handler(old.handler, old.context);
  PF_CHECK(ctx, clean && seen.count == 0);

  p.free_pages(a, Order{2});
  p.free_contig(c, 3);
}
