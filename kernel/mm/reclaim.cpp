// reclaim.cpp — the Reclaimer's retries of page-level calls: each runs only
// after its call has failed, decides by the policy in reclaim.hpp (the slab
// layer's reclaim_for_retry applies points 1, 3 and 4; point 2 is checked
// here), and runs the call once more.
#include "reclaim.hpp"

namespace pf {

PhysAddr Reclaimer::alloc_pages_slow(Order order, gfp_t flags, const void* caller) const {
  const PhysAddr p = pages_.alloc_slow(order, flags, caller);
  if (__builtin_expect(!p.is_null(), 1) || !order.valid() || !gfp_valid(flags)) return p;  // refused: no retry
  const size_t released = slab_.reclaim_for_retry(flags);
  if (released == 0) return p;
  const PhysAddr q = pages_.alloc_slow(order, flags | __GFP_NOWARN, caller);
  SlabAllocator::note_retry("alloc_pages", flags, released, !q.is_null());
  return q;
}

size_t Reclaimer::alloc_pages_bulk(Order order, gfp_t flags, size_t count, PhysAddr* out,
                                   const void* caller) const {
  size_t n = pages_.alloc_pages_bulk(order, flags, count, out, caller);
  if (__builtin_expect(n == count, 1) || !order.valid() || out == nullptr || !gfp_valid(flags))
    return n;  // refused: no retry
  const size_t released = slab_.reclaim_for_retry(flags);
  if (released == 0) return n;
  n += pages_.alloc_pages_bulk(order, flags | __GFP_NOWARN, count - n, out + n, caller);
  SlabAllocator::note_retry("alloc_pages_bulk", flags, released, n == count);
  return n;
}

// A request larger than all managed memory is not retried either: no
// reclaim can meet it.
PhysAddr Reclaimer::alloc_contig_retry(uint64_t frame_count, const ContigRequest& request) const {
  if (!request.valid(frame_count) || frame_count > pages_.counters().managed_frames) return PhysAddr{};
  const size_t released = slab_.reclaim_for_retry(request.flags);
  if (released == 0) return PhysAddr{};
  ContigRequest quiet = request;
  quiet.flags |= __GFP_NOWARN;
  const PhysAddr p = pages_.alloc_contig(frame_count, quiet);
  SlabAllocator::note_retry("alloc_contig", request.flags, released, !p.is_null());
  return p;
}

}  // namespace pf
