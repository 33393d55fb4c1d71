// slab_reclaim.cpp — the slab layer's half of direct reclaim (reclaim.hpp
// has the design and the policy): when one of its own page requests has
// failed, an allocation that may reclaim takes back what every cache keeps
// for speed and runs once more. That is data flowing downward: the slab
// layer empties its own caches and asks the page layer again.
//
// The retries start where the slow paths hold nothing: after alloc_slow's
// CPU-gate hold ended, after cache_alloc_slow's alloc_direct, in
// kmalloc_large, after a kmem_cache_create that found no memory. Never from grow() itself: refill calls it with this CPU's
// gate held, and reclaim stops every CPU's gate and takes the cache-list
// lock, which comes before the gates in the lock order. A call refused as
// misuse (no cache, a destroyed one, kmalloc_aligned's bad alignment,
// krealloc's bad pointer) has been reported and returned before any page
// was asked for, so it never gets here; nor do object-level injected
// failures (alloc_slow's and kmalloc_large's fail_injected comes first).
// The retry adds __GFP_NORECLAIM to its flags, so it cannot retry again.
#include "page_alloc.hpp"
#include "slab.hpp"
#include "text.hpp"

namespace pf {

size_t SlabAllocator::reclaim() {
  if (pages_ == nullptr) return 0;  // before init: nothing to reclaim (was a crash)
  const size_t released = shrink_all();
  // The blocks just freed may sit in per-CPU page caches, where they
  // neither merge nor serve another CPU.
  pages_->drain_cpu_caches();
  return released;
}

size_t SlabAllocator::reclaim_for_retry(gfp_t flags) {
  if (!may_reclaim(flags) || fail_armed() || pages_ == nullptr || pages_->fail_armed()) return 0;
  // A page allocation by a constructor (allowed: the page layer's locks are
  // not held) may not reclaim: that stops this CPU's slab caches, whose
  // gate the constructor's caller holds. It fails instead.
  {
    const unsigned cpu = platform::cpu_id();
    if (cpu < cpu_count_ && gates_[cpu].owner_busy()) return 0;
  }
  return reclaim();
}

void SlabAllocator::note_retry(const char* call, gfp_t flags, size_t released, bool succeeded) {
  if (flags & __GFP_NOWARN) return;
  LogLine line;
  line->str("pfalloc: ").str(call).str(": retried after reclaiming ").dec(released)
      .str(succeeded ? " frames from the slab caches: succeeded"
                     : " frames from the slab caches: still no memory")
      .nl();
}

// The retry is quiet (__GFP_NOWARN: the failure is in the log already, and
// note_retry says how it ended) and may not reclaim again.
void* SlabAllocator::alloc_retry(KmemCache* c, gfp_t flags, const void* caller, size_t requested) {
  const size_t released = reclaim_for_retry(flags);
  if (released == 0) return nullptr;
  void* obj = alloc_slow(c, flags | __GFP_NORECLAIM | __GFP_NOWARN, caller, requested);
  note_retry(requested != 0 ? "kmalloc" : "kmem_cache_alloc", flags, released, obj != nullptr);
  return obj;
}

// kmem_cache_create takes no flags: like Linux's, it may sleep, so it
// may reclaim (GFP_KERNEL). Its record and its per-CPU arrays come from
// pages; a creation that found none tries once more after reclaim.
KmemCache* SlabAllocator::create_retry(const char* name, size_t size, size_t align, unsigned flags,
                                       ObjectCtor ctor) {
  const size_t released = reclaim_for_retry(GFP_KERNEL);
  if (released == 0) return nullptr;
  KmemCache* c = create_cache(name, size, align, flags, ctor, false);
  note_retry("kmem_cache_create", GFP_KERNEL, released, c != nullptr);
  return c;
}

void* SlabAllocator::kmalloc_large_retry(size_t size, size_t align, gfp_t flags) {
  const size_t released = reclaim_for_retry(flags);
  if (released == 0) return nullptr;
  void* p = kmalloc_large(size, align, flags | __GFP_NORECLAIM | __GFP_NOWARN);
  note_retry("kmalloc", flags, released, p != nullptr);
  return p;
}

}  // namespace pf
