// pfalloc_hooks.hpp (embedder default) — the hooks the fast paths call,
// bound at link time.
//
// platform.hpp includes <pfalloc_hooks.hpp>; each build puts one directory
// holding such a header on its include path and so picks how the fast-path
// hooks are reached. This one (-Ikernel/mm/hooks) forwards to the C hooks of
// pfalloc.h, defined anywhere in the embedding kernel and bound by the linker:
// correct everywhere, at the price of an out-of-line call per hook. A kernel
// that wants the project's speed writes its own pfalloc_hooks.hpp with the
// same six members (the four functions inline, the two constants; see
// kernel/arch/x86_64/hooks/ and hosted/hooks/) and puts its directory on the
// include path instead of this one, or links with -flto (with its mem*
// functions compiled without it: GCC emits calls to them after LTO has
// dropped their unreferenced definitions). `make test-readme` builds the
// core with this header.
//
// Contract of the three (all must be cheap and must not call the allocator):
//   irq_save()/irq_restore(s): mask interrupts on this CPU / restore them;
//   cpu_id(): the caller's CPU index, owned exclusively by the caller while
//     interrupts are masked (kernel: the CPU it runs on); any value at or
//     above the instance's cpu_count sends the caller to the slow paths,
//     which ask cpu_id_claim() (a build may hand out CPU indices lazily
//     there, as the hosted build does; elsewhere it is cpu_id()). Always
//     below kCpuIdBound (types.hpp): the fast paths index with it untested,
//     so this one folds PF_NO_CPU (or anything >= kMaxCpus) into kMaxCpus;
//   kGateStoreOrder: the order of the owner's "I am inside" store in
//     CpuGate::enter() (cpu_cache.hpp): relaxed where pfalloc_hook_sync_cpus
//     is a real asymmetric barrier, seq_cst where it is not (ThreadSanitizer).
//   kGateMarksInside: whether the owner makes that store (and its "left"
//     store) at all. True is always correct. False (two stores fewer on
//     every fast path) only if every CPU answers pfalloc_hook_sync_cpus
//     outside every interrupt-masked section of the allocator: an IPI each
//     CPU takes, or pf_cpu_service() called from its tick and idle loop, or
//     from the allocator's own spins (pfalloc_hook_cpu_relax), never from an
//     NMI or other handler that runs while interrupts are masked.
#pragma once

#include <atomic>

#include "../pfalloc.h"
#include "../types.hpp"

namespace pf::platform {

inline unsigned long irq_save() { return pfalloc_hook_irq_save(); }
inline void irq_restore(unsigned long s) { pfalloc_hook_irq_restore(s); }
inline unsigned cpu_id() {
  const unsigned id = pfalloc_hook_cpu_id();
  return id < kMaxCpus ? id : kMaxCpus;
}
inline unsigned cpu_id_claim() { return cpu_id(); }
inline constexpr std::memory_order kGateStoreOrder = std::memory_order_relaxed;
inline constexpr bool kGateMarksInside = true;

}  // namespace pf::platform
