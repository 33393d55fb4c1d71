// cpu_cache.hpp — the one per-CPU cache machinery of both layers: CpuGate
// (who may touch one CPU's per-CPU data, and how), CpuStack<T> (the array
// stack the page caches and the object caches are made of) and
// CpuStackPair<T> (two of them, one for frees and one for allocations: the
// object caches' per-CPU arrays).
//
// Ownership. Each allocator instance keeps cpu_count + 1 gates: one per CPU
// and a shared one (index cpu_count) for callers without a CPU of their own
// (platform::cpu_id() >= cpu_count: a hosted thread beyond the CPU slots, a
// kernel caller without a CPU). Both layers keep one for every value
// cpu_id() can take (kCpuIdBound), those from cpu_count on closed for good
// (CpuGate::set_closed_locked; the shared one too: only its lock is used),
// so their fast paths need no range test. CPU i's caches are touched only
//   (a) by the owner of CPU i on its FAST PATH, between gate.enter() and
//       gate.leave(), with interrupts masked: no lock, no atomic RMW;
//   (b) by the owner of CPU i on its SLOW PATHS (refill, drain to the zone,
//       flush to the slabs), holding gate.lock;
//   (c) by anyone else (drain of another CPU, verify, stats, shrink,
//       reclaim), through CpuAccess below: gate.lock, then request = 1, then
//       platform::sync_cpus(), then wait until active == 0.
// The shared gate's caches are touched only under its lock (it has no
// owner, so no fast path).
//
// Why (c) excludes (a) without an atomic on the owner's side: the owner does
//   active = 1 (relaxed, plain mov); [compiler barrier]; if request: back out
// and the stopper does
//   request = 1 (seq_cst); sync_cpus(); while (active) relax();
// The two sides are a Dekker pair; the owner's missing store->load fence is
// supplied by sync_cpus(), an asymmetric barrier (Linux membarrier(2), an IPI,
// or every other CPU passing pf_cpu_service()): after it, either the stopper
// sees active == 1 and waits for the release store of leave(), or the owner
// sees request == 1 and takes its slow path, which blocks on gate.lock until
// the stopper is done. Under ThreadSanitizer the owner's store is seq_cst
// (platform::kGateStoreOrder): the same protocol, a Dekker pair TSan checks.
// Happens-before, as TSan sees it: owner's leave() (release) -> stopper's
// wait (acquire); stopper's release of request and lock -> owner's next
// enter() (acquire load) or lock.
//
// Remote frees: an object freed on CPU B goes into B's own cache, whichever
// CPU allocated it (Bonwick's magazines), on B's lock-free fast path; it
// reaches its slab when B's cache flushes. A page block has a home CPU (the
// one whose cache handed it out): a free there is the lock-free fast path;
// a free on B claims the block with a compare-and-swap and leaves a token on
// the home CPU's remote queue, which the home CPU (or a stopper through (c))
// collects (page_alloc.cpp, "Frees on two CPUs"): so one block freed on two
// CPUs at once is accepted once. A remote queue has a lock of its own and
// is never part of any fast path. Drains, verify, stats, shrink and reclaim
// touch another CPU's data through (c).
//
// Kernel: interrupts are masked around every fast path, so nothing else runs
// on the CPU meanwhile; with several CPUs, pfalloc_hook_sync_cpus must make
// every other online CPU execute a full barrier (an IPI, or waiting until
// each has called pf_cpu_service() from its tick or idle loop).
// Kernel without the marks (platform::kGateMarksInside false, as in this
// project's kernel): where every answer to sync_cpus() is given outside every fast
// path (an IPI handler or pf_cpu_service() runs with interrupts enabled, a
// fast path masks them from its test of request to its last store; a spin
// in a slow path may answer too: fast paths never spin, never call out), the
// owner need not say it is inside. The stopper sets request, then
// sync_cpus() returns only after each CPU answered: a fast path that began
// before the answer ended before it (its stores are published by the
// answer, a release the stopper acquires), and one that begins after it
// sees request (the answer's full barrier) and backs out. So enter() is
// the load of request alone and leave() nothing: two stores fewer on every
// fast path of both layers, active_ never written, wait_quiet() empty
// (Linux's local_lock on a kernel without PREEMPT_RT: masking interrupts
// is the whole lock). The hosted build keeps the marks (a thread can be
// preempted inside a fast path, and membarrier(2) answers for it there).
//
// Invariants: request's stop bit is set only while gate.lock is held by a
// stopper (its other bits: closed, see CpuGate::set_closed_locked; owner
// busy, set only while gate.lock is held by the owner, see
// CpuGate::set_owner_busy_locked);
// active == 1 only inside the owner's enter()..leave(), which never blocks,
// never calls out and never nests (one gate per allocator instance and CPU);
// active == 0 always where platform::kGateMarksInside is false.
// Lock order: gates in index order (CpuAccessAll), before any lock of the
// layer below.
#pragma once

#include <atomic>
#include <cstdint>

#include "platform.hpp"
#include "spinlock.hpp"
#include "types.hpp"

namespace pf {

class alignas(64) CpuGate {
 public:
  constexpr CpuGate() = default;

  // Owner, fast path, interrupts masked. True: this CPU's data is ours until
  // leave(). False: someone holds it, or the gate is closed; take the slow path.
  PF_FAST_PATH bool enter() {
    if constexpr (!platform::kGateMarksInside) return unrequested();
    active_.store(1, platform::kGateStoreOrder);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    if (__builtin_expect(unrequested(), 1)) return true;
    active_.store(0, std::memory_order_release);
    return false;
  }
  // request_ == 0, as a seq_cst load (a plain load on x86-64). There it is
  // one `cmpl $0, mem` whose flags the branch uses: GCC never folds an
  // atomic load into a compare, so the plain form costs a mov and a test
  // (one instruction more on every fast path of both layers). The memory
  // clobber orders it as the signal fence above does (a compiler barrier;
  // the hardware order is the Dekker pair's, see the top of this file).
  // ThreadSanitizer must see the load, so its build keeps the atomic.
  PF_FAST_PATH bool unrequested() const {
#if defined(__x86_64__) && !defined(PFALLOC_TSAN) && !defined(__SANITIZE_THREAD__)
    bool clear;
    asm volatile("cmpl $0, %1" : "=@ccz"(clear) : "m"(request_) : "memory");
    return clear;
#else
    return request_.load(std::memory_order_seq_cst) == 0;
#endif
  }
  PF_FAST_PATH void leave() {
    if constexpr (platform::kGateMarksInside) active_.store(0, std::memory_order_release);
  }

  SpinLock& lock() const { return lock_; }
  // Stopper side, gate.lock held (see CpuAccess). Every writer of request_
  // holds gate.lock, so a load and a store keep the other bit (no RMW).
  void request_stop() const {
    request_.store(request_.load(std::memory_order_relaxed) | kStop, std::memory_order_seq_cst);
  }
  // seq_cst (a plain load on x86-64): with the seq_cst store of
  // request_stop() and, under TSan, of enter(), the two sides are a Dekker
  // pair in the C++ model itself; acquire pairs with leave()'s release.
  // Without the owner's marks (platform::kGateMarksInside false) there is
  // nothing to wait for: sync_cpus() has returned, so the owner has been
  // outside every fast path since the stop was requested (see the top of
  // this file).
  void wait_quiet() const {
    if constexpr (platform::kGateMarksInside)
      while (active_.load(std::memory_order_seq_cst) != 0) platform::cpu_relax();
  }
  void resume() const {
    request_.store(request_.load(std::memory_order_relaxed) & ~kStop, std::memory_order_release);
  }
  // Closed: enter() fails for good, whoever calls it, until reopened (gate.lock
  // held). A layer closes the gates of indices that have no owner (at or
  // above its cpu_count, up to kCpuIdBound) and, while its fast paths are
  // off (before init, fault injection, teardown), every gate: so its fast
  // paths index the gates with cpu_id() and need no range test of their own.
  // A closed gate's active_ may be written by several callers at once (every
  // thread without a CPU enters the same one): nobody waits on it.
  void set_closed_locked(bool closed) const {
    const uint32_t r = request_.load(std::memory_order_relaxed);
    request_.store(closed ? r | kClosed : r & ~kClosed, std::memory_order_release);
  }
  bool closed() const { return (request_.load(std::memory_order_relaxed) & kClosed) != 0; }
  // The owner's slow path, gate.lock held, is running code that is not the
  // allocator's (a kmem_cache constructor): while set, the owner's own fast
  // paths fail enter() (request_ != 0) and its slow paths can tell a call
  // back into the layer (which would wait for the lock it holds itself)
  // from an ordinary one. Set and cleared by the owner with gate.lock held,
  // so no stopper ever sees it (stoppers take the lock first); read by the
  // owner alone (owner_busy), for its own gate.
  void set_owner_busy_locked(bool busy) const {
    const uint32_t r = request_.load(std::memory_order_relaxed);
    request_.store(busy ? r | kOwnerBusy : r & ~kOwnerBusy, std::memory_order_release);
  }
  bool owner_busy() const { return (request_.load(std::memory_order_relaxed) & kOwnerBusy) != 0; }

 protected:
  // request_'s bits: a stopper holds the owner out (CpuAccess); closed;
  // the owner's slow path runs a constructor (set_owner_busy_locked).
  static constexpr uint32_t kStop = 1, kClosed = 2, kOwnerBusy = 4;
  constexpr explicit CpuGate(uint32_t request) : request_(request) {}

 private:
  mutable std::atomic<uint32_t> active_{0};
  mutable std::atomic<uint32_t> request_{0};
  mutable SpinLock lock_;
};

// A gate that starts closed (for a layer whose constant-initialised gates
// must refuse every fast path until init opens them).
class ClosedCpuGate : public CpuGate {
 public:
  constexpr ClosedCpuGate() : CpuGate(kClosed) {}
};
static_assert(sizeof(ClosedCpuGate) == sizeof(CpuGate));

// Exclusive access to one CPU's data from a slow path: the gate's lock, and
// for another CPU's data (`other`) the full stop. Masks interrupts for its
// lifetime. `other` is false for the caller's own CPU and the shared gate.
class CpuAccess {
 public:
  CpuAccess(const CpuGate& gate, bool other) : gate_(gate), irq_(platform::irq_save()), other_(other) {
    gate_.lock().lock();
    if (other_) {
      gate_.request_stop();
      platform::sync_cpus();
      gate_.wait_quiet();
    }
  }
  ~CpuAccess() {
    if (other_) gate_.resume();
    gate_.lock().unlock();
    platform::irq_restore(irq_);
  }
  CpuAccess(const CpuAccess&) = delete;
  CpuAccess& operator=(const CpuAccess&) = delete;

 private:
  const CpuGate& gate_;
  unsigned long irq_;
  bool other_;
};

// Every gate (cpu_count + 1 of them, gate_at(i) for i in [0, cpu_count]), in
// index order, with one sync_cpus() for all the stops; `self` (the caller's
// CPU, whose owner is the caller and so not on a fast path) is locked, not
// stopped. Unscoped, for fork_prepare/fork_release, which hold every gate
// across fork(); CpuAccessAll below is the scoped form.
template <typename GateAt>
void hold_all_gates(GateAt gate_at, unsigned cpu_count, unsigned self) {
  bool any = false;
  for (unsigned i = 0; i <= cpu_count; ++i) {
    gate_at(i).lock().lock();
    if (i < cpu_count && i != self) {
      gate_at(i).request_stop();
      any = true;
    }
  }
  if (any) platform::sync_cpus();
  for (unsigned i = 0; i < cpu_count; ++i)
    if (i != self) gate_at(i).wait_quiet();
}
template <typename GateAt>
void release_all_gates(GateAt gate_at, unsigned cpu_count, unsigned self) {
  for (unsigned i = cpu_count + 1; i-- > 0;) {
    if (i < cpu_count && i != self) gate_at(i).resume();
    gate_at(i).lock().unlock();
  }
}

template <typename GateAt>
class CpuAccessAll {
 public:
  CpuAccessAll(GateAt gate_at, unsigned cpu_count)
      : gate_at_(gate_at), count_(cpu_count), self_(platform::cpu_id()), irq_(platform::irq_save()) {
    hold_all_gates(gate_at_, count_, self_);
  }
  ~CpuAccessAll() {
    release_all_gates(gate_at_, count_, self_);
    platform::irq_restore(irq_);
  }
  CpuAccessAll(const CpuAccessAll&) = delete;
  CpuAccessAll& operator=(const CpuAccessAll&) = delete;

 private:
  GateAt gate_at_;
  unsigned count_;
  unsigned self_;
  unsigned long irq_;
};

// An array stack of T: pushed and popped at the top (the hottest end),
// trimmed from the bottom (the coldest). `count` is an atomic only so that
// counters can be read without a gate: it is written by whoever holds the
// CPU's data (relaxed load + store, plain moves), never read-modify-written.
// Invariant: count <= capacity of `slots` (the owner's limit).
template <typename T>
struct CpuStack {
  std::atomic<uint32_t> count{0};
  T* slots = nullptr;

  uint32_t size() const { return count.load(std::memory_order_relaxed); }
  void set_size(uint32_t n) { count.store(n, std::memory_order_relaxed); }
  T& top() { return slots[size() - 1]; }
  // The caller checked the room / the content.
  T pop() {
    const uint32_t n = size() - 1;
    set_size(n);
    return slots[n];
  }
  void push(T v) {
    const uint32_t n = size();
    slots[n] = v;
    set_size(n + 1);
  }
  // Removes the `n` bottom entries (the caller has dealt with them).
  void drop_bottom(uint32_t n) {
    const uint32_t total = size();
    for (uint32_t i = n; i < total; ++i) slots[i - n] = slots[i];
    set_size(total - n);
  }
  // Reverses slots [0, n): refills are taken in address order and handed
  // out lowest first.
  void reverse(uint32_t n) {
    for (uint32_t i = 0; i < n / 2; ++i) {
      T t = slots[i];
      slots[i] = slots[n - 1 - i];
      slots[n - 1 - i] = t;
    }
  }
};

// Two stacks of T per CPU and kind: frees push onto `in`, allocations pop
// from `out`, and an allocation that finds `out` empty while `in` holds
// entries turns the pair (turn(): the two swap roles, nothing is copied).
// Why two: with one stack, an allocation right after a free loads the
// count (and the entry) the free has just stored, so every free-allocate
// pair waits on two store-to-load forwards, and a free whose stack is
// found through a chain of loads from the pointer (kfree: descriptor,
// header, arrays) holds up the next allocation for that whole chain. With
// two, a free and the next allocation touch different words and overlap
// (a stand-alone loop of the kfree shape: 7.7 ns per pair with one stack,
// 1.8 ns with two). Frees are still served LIFO-hot once the pair turns.
// The object caches use it (slab.hpp, CpuArray: the kmalloc+kfree pair went
// from 7.3 to 4.4-4.7 ns). The page caches keep one CpuStack per order: a
// pair there made the order-0 page pair slower (2.73 -> 2.96-3.04 ns), as
// that pair is bound by the instructions it runs, not by forwarding, and
// the turn and the second stack only add to them.
// Invariant: both stacks have the same capacity (the owner's limit), so a
// turn keeps count <= capacity for each.
template <typename T>
struct CpuStackPair {
  CpuStack<T> out;  // allocations pop here
  CpuStack<T> in;   // frees push here

  uint32_t size() const { return out.size() + in.size(); }
  // Exchanges the two stacks (their entries and counts): the caller holds
  // the CPU's data.
  void turn() {
    T* const slots = out.slots;
    const uint32_t n = out.size();
    out.slots = in.slots;
    out.set_size(in.size());
    in.slots = slots;
    in.set_size(n);
  }
};

// The interrupt mask of a fast path (a no-op in the hosted build).
class IrqOff {
 public:
  IrqOff() : s_(platform::irq_save()) {}
  ~IrqOff() { platform::irq_restore(s_); }
  IrqOff(const IrqOff&) = delete;
  IrqOff& operator=(const IrqOff&) = delete;

 private:
  unsigned long s_;
};

}  // namespace pf
