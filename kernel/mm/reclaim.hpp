// reclaim.hpp — direct reclaim: an allocation that fails for lack of memory
// while the slab layer holds memory it keeps only for speed (per-CPU object
// arrays, depots, empty slabs kept for reuse) takes that memory back and
// tries once more before it says no, as Linux runs its shrinkers in direct
// reclaim before it fails an allocation that may reclaim.
//
// Owns: the policy (below), applied by the slab layer to its own calls and
// by the Reclaimer here to the page layer's. No data, no locks.
//
// Where it lives, and why:
//  - The page layer must not call the slab layer (data flows downward). A
//    shrinker hook called from PageAllocator::alloc_slow would do just that,
//    and could not work anyway: the slab layer asks for pages with its CPU's
//    gate held (refill -> grow), so a reclaim from inside that request would
//    wait for its own gate, and would take the cache-list lock inside a gate
//    (the lock order is list of caches -> gates -> node lock -> ... -> zone).
//  - The slab layer retries its own failures (slab_reclaim.cpp): when its
//    page request failed, it empties its own caches and asks the page layer
//    again, which is downward. It does so at the ends of its slow paths
//    (alloc_slow, cache_alloc_slow, kmalloc_large, cache_create), where it
//    holds nothing, so kmalloc, kmem_cache_alloc, kmem_cache_create and the
//    bulk, zeroing and realloc forms retry whether they are called through
//    the C API or on a SlabAllocator directly, and their fast paths are
//    untouched.
//  - Page-level calls (alloc_pages, alloc_pages_bulk, alloc_contig) never
//    enter the slab layer: the glue above both layers retries them, here.
//    A Reclaimer binds one PageAllocator and the SlabAllocator on it; the C
//    API (capi.cpp) allocates pages through the one bound to the global
//    instances, and a C++ embedder or a test may bind its own. Its
//    alloc_pages hands the page layer's inline fast path a slow path of its
//    own (PageAllocator::alloc_pages_or), so a success costs nothing: the
//    check and the retry sit behind alloc_slow's failure.
//
// The policy, for a call that failed (null, or fewer blocks than asked):
//  1. the flags allow reclaim (may_reclaim): not __GFP_NORECLAIM (GFP_ATOMIC,
//     GFP_NOWAIT), because reclaim stops every other CPU's gates and calls
//     pfalloc_hook_sync_cpus, which an interrupt handler, or code running
//     with interrupts masked, must not do (the other CPU may be waiting on
//     it); not __GFP_NORETRY (the caller has a cheaper fallback);
//  2. the failure was for lack of memory: a call refused as misuse has been
//     reported once and is not retried (that would report it again), and a
//     request no memory could meet (an order above kMaxOrder) gains nothing.
//     The slab layer's refusals return before any page is asked for; here,
//     alloc_pages retries only a valid order, alloc_contig only a
//     ContigRequest::valid request;
//  3. no fault injection is armed on either layer (set_fail_after): an
//     injected failure must stay the failure the test asked for, at the
//     count it asked for; a retry would be one more counted call and could
//     turn the nth allocation's failure into a success, and the layers do
//     not remember which of their failures were injected (that would cost
//     every call a store);
//  4. reclaim (SlabAllocator::reclaim: shrink_all, then every CPU's page
//     cache; the page layer drained its caches itself before failing)
//     released frames: nothing released, nothing to retry for.
// Then the call runs once more, quietly (__GFP_NOWARN: the first attempt's
// failure is in the log already), and, unless the caller said __GFP_NOWARN,
// one line says what reclaim released and how the retry ended. Once, never
// in a loop: what reclaim released is what there is, and a retry carries
// __GFP_NORECLAIM.
//
// Lock order: a Reclaimer holds nothing; reclaim takes what shrink_all and
// drain_cpu_caches take, one after the other.
#pragma once

#include "page_alloc.hpp"
#include "slab.hpp"

namespace pf {

class Reclaimer {
 public:
  constexpr Reclaimer(PageAllocator& pages, SlabAllocator& slab) : pages_(pages), slab_(slab) {}

  // Each call below is the page layer's, retried once after reclaim under
  // the policy above.
  PF_FAST_PATH PhysAddr alloc_pages(Order order, gfp_t flags, const void* caller) const {
    return pages_.alloc_pages_or(order, flags, caller,
                                 [this](Order o, gfp_t f, const void* c) PF_FAST_LAMBDA {
                                   return alloc_pages_slow(o, f, c);
                                 });
  }
  // The retry asks for the blocks still missing.
  size_t alloc_pages_bulk(Order order, gfp_t flags, size_t count, PhysAddr* out,
                          const void* caller = nullptr) const;
  // Inline, so that a report from the page layer names the code that called
  // this, as PageAllocator::alloc_contig alone does.
  PF_FAST_PATH PhysAddr alloc_contig(uint64_t frame_count, const ContigRequest& request) const {
    const PhysAddr p = pages_.alloc_contig(frame_count, request);
    if (!p.is_null()) return p;
    return alloc_contig_retry(frame_count, request);
  }

 private:
  [[gnu::noinline, gnu::cold]] PhysAddr alloc_pages_slow(Order order, gfp_t flags,
                                                         const void* caller) const;
  [[gnu::noinline, gnu::cold]] PhysAddr alloc_contig_retry(uint64_t frame_count,
                                                           const ContigRequest& request) const;

  PageAllocator& pages_;
  SlabAllocator& slab_;
};

}  // namespace pf
