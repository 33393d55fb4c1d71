// slab_fork.cpp — fork support for the slab layer and, below it, the page
// allocator: pthread_atfork's prepare takes every lock so that no operation
// is half-done when the address space is copied, and parent and child
// release them.
//
// Lock order (the one every path follows, outermost first; slab.hpp and
// page_alloc.hpp):
//   caches_lock_ -> every slab per-CPU gate, in CPU order, owners stopped ->
//   every cache's node lock (kmem_cache, kmem_slab, then the list in order)
//   -> PageAllocator: hot-add lock -> every page per-CPU gate, in CPU order,
//   owners stopped -> every zone lock, in zone order.
// A stopped gate means its owner is not between enter() and leave(): no CPU
// is inside a fast path when fork() copies memory, so every per-CPU array
// and page cache is whole in the child. The core keeps no per-thread state:
// a CPU slot's caches belong to the slot, and the child's threads use them
// when they run as that CPU (the hosted build's slot table is its own).
// The calling thread's own CPU (if it has one) is locked, not stopped: it is
// here, not on a fast path. It must not allocate until fork_release.
#include "slab.hpp"

namespace pf {

void SlabAllocator::fork_prepare() {
  caches_lock_.lock();
  fork_irq_ = platform::irq_save();
  fork_self_ = platform::cpu_id();
  hold_all_gates(all_gates(), cpu_count_, fork_self_);
  cache_cache_.node_lock_.lock();
  slab_cache_.node_lock_.lock();
  for (KmemCache* c = caches_; c != nullptr; c = c->next_) c->node_lock_.lock();
  if (pages_ != nullptr) pages_->fork_prepare();
}

void SlabAllocator::fork_release() {
  if (pages_ != nullptr) pages_->fork_release();
  for (KmemCache* c = caches_; c != nullptr; c = c->next_) c->node_lock_.unlock();
  slab_cache_.node_lock_.unlock();
  cache_cache_.node_lock_.unlock();
  release_all_gates(all_gates(), cpu_count_, fork_self_);
  platform::irq_restore(fork_irq_);
  caches_lock_.unlock();
}

}  // namespace pf
