// pfalloc_hooks.hpp (kernel build) — the fast-path hooks, inline: the
// allocator's fast paths compile to pushf/cli ... sti with no call. The same
// behaviour is exported as the C hooks by kernel/arch/x86_64/platform.cpp.
// See kernel/mm/hooks/pfalloc_hooks.hpp for the contract.
//
// CPU index: one instruction, `movl %gs:8` (PerCpu::index, percpu.hpp): every
// CPU sets its GS base before it first calls the allocator. Always below
// kMaxCpus (an index into g_cpus), so below kCpuIdBound as the core requires.
#pragma once

#include <atomic>

#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/mm/pfalloc.h"

namespace pf::platform {

inline unsigned long irq_save() {
  unsigned long flags;
  asm volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
  return flags;
}
inline void irq_restore(unsigned long flags) {
  if (flags & (1ul << 9)) asm volatile("sti" : : : "memory");  // RFLAGS.IF
}
inline unsigned cpu_id() { return arch::this_cpu_index(); }
inline unsigned cpu_id_claim() { return cpu_id(); }
// Interrupts masked + pfalloc_hook_sync_cpus waiting for the other CPUs.
inline constexpr std::memory_order kGateStoreOrder = std::memory_order_relaxed;
// No "inside" marks: every answer to smp_sync_cpus comes from the sync IPI's
// handler, an idle CPU's wake-up, or a spin of the allocator's slow paths
// (pfalloc_hook_cpu_relax), none inside a fast path (cpu_cache.hpp says why
// that is enough).
inline constexpr bool kGateMarksInside = false;

}  // namespace pf::platform
