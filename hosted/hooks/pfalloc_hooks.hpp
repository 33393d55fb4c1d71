// pfalloc_hooks.hpp (hosted build) — the fast-path hooks, inline. See
// kernel/mm/hooks/pfalloc_hooks.hpp for the contract and hosted/platform.cpp
// for the CPU-slot protocol behind cpu_id().
//
// No interrupts: irq_save/restore are empty. cpu_id() reads the thread's
// claimed slot from TLS (one load; local-exec in executables); the thread's first slow
// path claims one (cpu_id_claim, out of line). Under ThreadSanitizer (PFALLOC_TSAN, set by the
// Makefile's tsan flavour) the gate's owner store is seq_cst, so the
// owner/stopper handshake is a plain Dekker pair TSan understands, instead
// of a relaxed store paired with membarrier(2), which TSan cannot see.
#pragma once

#include <atomic>

#include "kernel/mm/pfalloc.h"
#include "kernel/mm/types.hpp"

namespace pf::hosted {
// kMaxCpus or above: no slot claimed yet (kSlotUnclaimed) or none to be had
// (hosted/platform.cpp); every such value stays below kCpuIdBound, because
// the fast paths of both layers index their (closed) gates with it untested.
inline constexpr unsigned kSlotUnclaimed = kMaxCpus;
// The slot's TLS model: local-exec (`mov %fs:OFFSET`, one instruction per
// fast path) in an executable, PIE included; initial-exec (an offset loaded
// from the GOT first) in code built for a shared object (-fPIC without
// -fPIE: the LD_PRELOAD library), where local-exec cannot link.
#if defined(__PIC__) && !defined(__PIE__)
#define PF_HOSTED_TLS_MODEL "initial-exec"
#else
#define PF_HOSTED_TLS_MODEL "local-exec"
#endif
extern __thread unsigned t_cpu_slot __attribute__((tls_model(PF_HOSTED_TLS_MODEL)));
[[gnu::noinline, gnu::cold]] unsigned claim_slot();
}  // namespace pf::hosted

namespace pf::platform {

inline unsigned long irq_save() { return 0; }
inline void irq_restore(unsigned long) {}
// The fast paths' question: one TLS load; kMaxCpus or above until the
// thread has claimed a slot (or when none is left), which sends the caller
// to a slow path, where cpu_id_claim() claims one.
inline unsigned cpu_id() { return hosted::t_cpu_slot; }
inline unsigned cpu_id_claim() {
  const unsigned s = hosted::t_cpu_slot;
  if (__builtin_expect(s < kMaxCpus, 1)) return s;
  return hosted::claim_slot();
}
#ifdef PFALLOC_TSAN
inline constexpr std::memory_order kGateStoreOrder = std::memory_order_seq_cst;
#else
inline constexpr std::memory_order kGateStoreOrder = std::memory_order_relaxed;
#endif
// A thread can be preempted inside a fast path, and membarrier(2) answers
// for it there: the owner must say it is inside.
inline constexpr bool kGateMarksInside = true;

}  // namespace pf::platform
