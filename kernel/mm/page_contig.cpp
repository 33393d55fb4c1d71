// page_contig.cpp — alloc_contig/free_contig: n frames (any n >= 1) with an
// alignment, a boundary the range may not cross, and a highest address.
//
// Search: under one zone lock, walk each range's descriptors block by block
// (a free block, an allocated block and a cached block are each one step),
// gather runs of adjacent free blocks and take the first window in a run that
// meets align/boundary/max_addr. If no zone has one, the per-CPU caches are
// drained (cached blocks break runs) and the search runs once more. This is
// a slow path by design: O(blocks in the zone).
//
// Carving: the free blocks overlapping the window leave their lists; the
// window is cut into maximal aligned pieces, each an Allocated head with its
// order; what is left of the overlapped blocks on either side goes back to
// the buddy through ZoneArea::give (it merges where it can).
//
// Marks (what free_contig and free_pages check): every piece's descriptor has
//   owner == kOwnerContig, link_prev == offset of the piece in the allocation,
//   link_next == the allocation's frame count, order == the piece's order.
// So free_contig(phys, n) accepts exactly what alloc_contig returned, and
// free_pages on a piece (or free_contig on an alloc_pages block) is a named
// ContigBadFree.
// Lock order: the zone lock only (the drain takes CPU locks with no zone lock held).
// free_contig checks and gives back under one hold of it (see there).
#include "error.hpp"
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::peek;

namespace {
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
}  // namespace

bool PageAllocator::find_contig(Zone zone, uint64_t frames, uint64_t align, uint64_t boundary,
                                uint64_t end_limit, uint64_t& out) {
  const ZoneArea& z = this->zone(zone);
  if (z.free_buddy() < frames) return false;
  for (uint32_t i = z.first_range(); i < z.end_range(); ++i) {
    Range& r = ranges_[i];
    if (r.base >= end_limit) return false;
    if (r.end - r.base < frames) continue;
    uint64_t p = r.base;
    while (p < r.end) {
      const FrameDescriptor& d = r.desc[p - r.base];
      const FrameState st = frame_state(d);
      if (st != FrameState::Free) {
        // frame_order: a Cached block's whole second word is rewritten by
        // its CPU's hand-out (frame.hpp hand_out) without this lock.
        p += (st == FrameState::Reserved || st == FrameState::Tail) ? 1 : uint64_t{1} << frame_order(d);
        continue;
      }
      const uint64_t run_start = p;
      while (p < r.end && frame_state(r.desc[p - r.base]) == FrameState::Free)
        p += uint64_t{1} << r.desc[p - r.base].order;
      const uint64_t run_end = p;
      if (run_start >= end_limit) return false;
      uint64_t s = align_up(run_start, align);
      if (boundary != 0 && ((s ^ (s + frames - 1)) & ~(boundary - 1)) != 0)
        s = align_up(align_up(s + 1, boundary), align);
      if (s + frames <= run_end && s + frames <= end_limit) {
        carve_contig(r, Pfn{run_start}, Pfn{s}, frames);
        out = s;
        return true;
      }
    }
  }
  return false;
}

void PageAllocator::carve_contig(Range& r, Pfn run_pfn, Pfn start_pfn, uint64_t frames) {
  ZoneArea& z = zone_of(r);
  const uint64_t start = start_pfn.value, end = start + frames;
  uint64_t lo = 0, hi = 0;
  bool any = false;
  for (uint64_t p = run_pfn.value; p < end;) {
    FrameDescriptor& d = r.desc[p - r.base];
    const uint64_t block_end = p + (uint64_t{1} << d.order);
    if (block_end > start) {
      if (!any) lo = p;
      any = true;
      z.remove(r, Pfn{p}, Order{d.order});
      detail::clear_to_tail(d);
      hi = block_end;
    }
    p = block_end;
  }
  detail::for_each_aligned_block(start, end, [&](uint64_t p, unsigned k) {
    FrameDescriptor& d = r.desc[p - r.base];
    d.link_next = static_cast<uint32_t>(frames);
    d.link_prev = static_cast<uint32_t>(p - start);
    set_frame_owner(d, kOwnerContig);
    set_home(d, kNoHomeCpu);
    set_frame_order(d, static_cast<uint8_t>(k));
    set_frame_state(d, FrameState::Allocated);
  });
  auto give = [&](uint64_t p, unsigned k) { z.give(r, Pfn{p}, Order{k}); };
  detail::for_each_aligned_block(lo, start, give);
  detail::for_each_aligned_block(end, hi, give);
}

PhysAddr PageAllocator::alloc_contig(uint64_t frame_count, const ContigRequest& request) {
  const void* caller = PF_CALLER;
  const uint64_t align = request.align == 0 ? kPageSize : request.align;
  const uint64_t boundary = request.boundary;
  if (!gfp_valid(request.flags)) {
    report_bad_gfp(request.flags, "alloc_contig", caller);
    return PhysAddr{};
  }
  if (!request.valid(frame_count)) {
    report({.code = ErrorCode::InvalidArgument,
            .detail = "alloc_contig: frame count 0, or align/boundary not a power of two >= 4096",
            .address = align, .caller = caller});
    return PhysAddr{};
  }
  const uint64_t end_limit = request.max_addr == 0 ? ~uint64_t{0} : request.max_addr >> kPageShift;
  const bool possible = frame_count < kNoLink && (boundary == 0 || frame_count <= boundary >> kPageShift) &&
                        frame_count <= end_limit;
  const bool injected = __builtin_expect(peek(fail_at_) != 0, 0) && fail_injected();
  uint64_t found = 0;
  if (possible && !injected) {
    const gfp_t flags = request.flags;
    const unsigned limit = (flags & __GFP_DMA) ? 0u : (flags & __GFP_DMA32) ? 1u : 2u;
    unsigned count = detail::load_relaxed(fallback_count_[limit]);
    if (flags & __GFP_THISZONE)
      count = (count > 0 && detail::load_relaxed(fallback_[limit][0]) == limit) ? 1 : 0;
    for (int pass = 0; pass < 2 && found == 0; ++pass) {
      if (pass == 1) drain_cpu_caches();
      for (unsigned i = 0; i < count && found == 0; ++i) {
        const auto z = static_cast<Zone>(detail::load_relaxed(fallback_[limit][i]));
        LockGuard guard(zone(z).lock());
        uint64_t at = 0;
        if (find_contig(z, frame_count, align >> kPageShift, boundary >> kPageShift, end_limit, at))
          found = at;
      }
    }
  }
  if (found == 0) {
    if (!(request.flags & __GFP_NOWARN)) {
      LogLine line;
      line->str("pfalloc: alloc_contig: no free range of ").dec(frame_count).str(" frames (align ")
          .hex(align).str(", boundary ").hex(boundary).str(", max ").hex(request.max_addr)
          .str(injected ? ", fault injected)" : ")").nl();
    }
    return PhysAddr{};
  }
  const PhysAddr phys = pf::to_phys(Pfn{found});
  if (request.flags & __GFP_ZERO)
    __builtin_memset(phys_.to_virt<void>(phys), 0, frame_count << kPageShift);
  return phys;
}

void PageAllocator::free_contig(PhysAddr phys, uint64_t frame_count, const void* who) {
  const void* caller = who != nullptr ? who : PF_CALLER;
  const uint64_t pfn = phys.value >> kPageShift;
  auto refuse = [&](ErrorCode code, const char* detail, uint64_t at) {
    report({.code = code, .detail = detail, .address = at << kPageShift, .pfn = at, .caller = caller});
  };
  if (frame_count == 0)
    return report({.code = ErrorCode::InvalidArgument, .detail = "free_contig: frame count 0",
                   .address = phys.value, .caller = caller});
  Range* r = find_range(pfn);
  if (r == nullptr)
    return refuse(ErrorCode::PageOutsideManaged, "free_contig: frame is not managed by this allocator", pfn);
  if (!phys.page_aligned())
    return report({.code = ErrorCode::PageMisaligned, .detail = "free_contig: address is not page aligned",
                   .address = phys.value, .pfn = pfn, .caller = caller});
  if (frame_count > r->end - pfn)
    return refuse(ErrorCode::ContigBadFree, "free_contig: range runs past managed memory", pfn);

  // The check and the give under one hold of the zone lock (issue 11, case
  // 6): pieces change state only under it (alloc_contig carves under it;
  // free_pages refuses contig pieces before any state change), so of two
  // free_contig calls of one range, on two CPUs at once, exactly one finds
  // it allocated. The diagnosis below reads after the lock is dropped: it
  // only names what it finds.
  uint64_t bad = ~uint64_t{0};
  {
    ZoneArea& z = zone_of(*r);
    LockGuard guard(z.lock());
    detail::for_each_aligned_block(pfn, pfn + frame_count, [&](uint64_t p, unsigned k) {
      if (bad != ~uint64_t{0}) return;
      const FrameDescriptor& d = r->desc[p - r->base];
      if (frame_state(d) != FrameState::Allocated || frame_owner(d) != kOwnerContig || frame_order(d) != k ||
          d.link_prev != p - pfn || d.link_next != frame_count)
        bad = p;
    });
    if (bad == ~uint64_t{0})
      detail::for_each_aligned_block(pfn, pfn + frame_count,
                                     [&](uint64_t p, unsigned k) { z.give(*r, Pfn{p}, Order{k}); });
  }
  if (bad != ~uint64_t{0}) {
    const FrameDescriptor& d = r->desc[bad - r->base];
    FrameState st = frame_state(d);
    if (st == FrameState::Tail) {
      // The enclosing block's state decides: inside a free block means the
      // allocation was already given back.
      for (unsigned k = 1; k <= kMaxOrder; ++k) {
        const uint64_t h = bad & ~((uint64_t{1} << k) - 1);
        if (h < r->base) break;
        const FrameDescriptor& hd = r->desc[h - r->base];
        if (frame_state(hd) == FrameState::Tail) continue;
        if (h + (uint64_t{1} << frame_order(hd)) > bad) st = frame_state(hd);
        break;
      }
    }
    if (st == FrameState::Free || st == FrameState::Cached || st == FrameState::RemoteFreed)
      return refuse(ErrorCode::PageDoubleFree, "free_contig: frames are already free", bad);
    if (st == FrameState::Reserved)
      return refuse(ErrorCode::PageReserved, "free_contig: frame is reserved (never handed out)", bad);
    return refuse(ErrorCode::ContigBadFree,
                  bad == pfn && (frame_state(d) != FrameState::Allocated || frame_owner(d) != kOwnerContig)
                      ? "free_contig: not the start of an alloc_contig allocation"
                      : "free_contig: frame count or start differs from the allocation",
                  bad);
  }
}

}  // namespace pf
