// percpu.hpp — the per-CPU area: one PerCpu per CPU, reached through the GS
// base, which points at the current CPU's PerCpu on every CPU.
//
// Contract shared with the rest of the project (COMMON.md): `self` at offset
// 0 and `index` at offset 8, so the CPU index is one instruction,
// `movl %gs:8, %eax` (pfalloc_hook_cpu_id), and isr.S reaches the per-CPU
// probe state at the fixed offsets below.
//
// Invariants:
//   g_cpus[i].index == i and g_cpus[i].self == &g_cpus[i] for every i;
//   GS base == &g_cpus[this CPU's index] once the CPU ran install_cpu_tables
//     (the BSP before the allocator exists; an AP in its trampoline);
//   index 0 is the boot CPU; indices follow the MADT's order of the others.
// Only the owning CPU writes its own fields, except the mailbox (`work*`,
// written by the boot CPU while the owner waits) and `state`.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "kernel/mm/types.hpp"

namespace pf::arch {

struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

enum class CpuState : uint32_t { Absent = 0, Starting = 1, Online = 2, Failed = 3 };

struct PerCpu;
using CpuWork = void (*)(PerCpu& cpu, void* arg);

struct alignas(64) PerCpu {
  // ---- fixed offsets (asm and the cpu_id hook read these) ----
  PerCpu* self;                 // @0
  uint32_t index;               // @8
  uint32_t apic_id;             // @12
  uint64_t probe_saved_rsp;     // @16 isr.S: fault probes
  uint64_t probe_recovery_rip;  // @24
  uint64_t probe_armed;         // @32
  // ---- the rest, by name only ----
  const char* fault_context;  // printed with a fault report on this CPU
  uint64_t probe_fault_address, probe_fault_error;  // the last probe fault
  uint64_t gdt[5];            // null, code 0x08, data 0x10, TSS 0x18 (two slots)
  Tss tss;
  // Stacks: [guard, guard + 4 KiB) is unmapped, the stack grows down to it.
  uint64_t stack_top, stack_guard;
  uint64_t ist_top, ist_guard;
  std::atomic<CpuState> state;
  // Mailbox: the boot CPU stores work/arg, then bumps work_seq; the owner
  // runs it and sets done_seq = work_seq.
  CpuWork work;
  void* work_arg;
  std::atomic<uint64_t> work_seq, done_seq;
  // Interrupt counters (owner writes, anyone reads).
  std::atomic<uint64_t> timer_ticks, timer_allocs, timer_alloc_failures, ticks_in_allocator;
  std::atomic<uint64_t> wake_ipis, spurious;
  uint32_t tick_backoff;  // ticks left to skip allocating after one failed
  // The last sync_cpus generation this CPU has answered (with a full barrier).
  std::atomic<uint64_t> sync_seen;
  // 1 only from idle_wait's locked store to the first interrupt after it
  // (interrupt_dispatch clears it, with a locked exchange, before any
  // handler runs): the CPU is halted, not inside the allocator, and cannot
  // enter it without a full barrier first. smp_sync_cpus counts such a CPU
  // as answered without an IPI (see smp.cpp). Owner writes, anyone reads.
  std::atomic<uint32_t> idle;
  // smp_sync_cpus calls that found this CPU idle and sent it no IPI, or
  // stopped waiting for its answer when it went idle (any CPU adds; for
  // the log and the smp_sync_cpus case).
  std::atomic<uint64_t> sync_skipped;
  // Set by code that calls the allocator (the SMP stress), so the timer can
  // count ticks that arrived while this CPU was inside an allocator call.
  std::atomic<uint32_t> in_allocator;
};

inline constexpr size_t kPerCpuSelf = 0, kPerCpuIndex = 8, kPerCpuProbeRsp = 16,
                        kPerCpuProbeRip = 24, kPerCpuProbeArmed = 32;
static_assert(__builtin_offsetof(PerCpu, self) == kPerCpuSelf);
static_assert(__builtin_offsetof(PerCpu, index) == kPerCpuIndex);
static_assert(__builtin_offsetof(PerCpu, probe_saved_rsp) == kPerCpuProbeRsp);
static_assert(__builtin_offsetof(PerCpu, probe_recovery_rip) == kPerCpuProbeRip);
static_assert(__builtin_offsetof(PerCpu, probe_armed) == kPerCpuProbeArmed);

// One area per CPU the allocator can serve.
extern PerCpu g_cpus[kMaxCpus];

inline constexpr uint32_t kMsrGsBase = 0xC0000101;

// The current CPU (GS base must be set).
inline PerCpu& this_cpu() {
  PerCpu* p;
  asm volatile("movq %%gs:0, %0" : "=r"(p));
  return *p;
}
inline unsigned this_cpu_index() {
  unsigned i;
  asm volatile("movl %%gs:8, %0" : "=r"(i));
  return i;
}
// For fault handlers: the current CPU's area if GS base points at one, else
// nullptr (a fault before the CPU set its GS base).
PerCpu* this_cpu_or_null();

}  // namespace pf::arch
