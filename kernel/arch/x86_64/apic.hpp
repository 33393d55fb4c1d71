// apic.hpp — interrupt controllers: the legacy 8259 pair (remapped, then
// masked for good) and each CPU's local APIC in xAPIC mode (MMIO), with its
// periodic timer and the IPIs that start application processors.
//
// Owns: the LAPIC's virtual address (set once by lapic_set_base, after the
// kernel mapped the MMIO page uncached) and the timer's calibrated count.
// Vectors (one IDT, all CPUs): 0x20-0x2F the remapped PIC lines (only ever
// spurious, since every line stays masked), kTimerVector, kWakeVector (an
// IPI that only wakes a halted CPU), kSpuriousVector (the LAPIC's).
// Invariants: lapic_* calls come after lapic_set_base(); the timer count is
// calibrated once, on the boot CPU, before any CPU starts its timer.
#pragma once

#include <cstdint>

namespace pf::arch {

inline constexpr uint8_t kPicBase = 0x20;
inline constexpr uint8_t kTimerVector = 0x40;
inline constexpr uint8_t kWakeVector = 0x41;
inline constexpr uint8_t kSyncVector = 0x42;  // smp_sync_cpus' IPI
inline constexpr uint8_t kSpuriousVector = 0xFF;

inline constexpr uint32_t kMsrApicBase = 0x1B;
inline constexpr uint64_t kApicBaseEnable = uint64_t{1} << 11;
inline constexpr uint64_t kApicBaseBsp = uint64_t{1} << 8;
inline constexpr uint64_t kApicBaseX2 = uint64_t{1} << 10;
// Physical address of this CPU's LAPIC page, from IA32_APIC_BASE.
uint64_t lapic_phys_base();
bool cpu_has_apic();

// ICW1-4 with the lines at kPicBase..kPicBase+15, then every line masked;
// installs the handlers of those vectors (a spurious IRQ 7/15 is counted).
// Needed with or without a local APIC: the BIOS leaves the master PIC at
// vector 8, so without it the PIT's IRQ 0 arrives as a bogus #DF.
void pic_remap_and_mask();

// `virt`: where the kernel mapped the LAPIC page (uncached).
void lapic_set_base(uint64_t virt);
// On the calling CPU: xAPIC mode enabled (IA32_APIC_BASE), software enable
// with the spurious vector, task priority 0, LINT0/LINT1/error masked except
// LINT1 (NMI) on the boot CPU. Installs the spurious/wake handlers once.
void lapic_init_this_cpu(bool boot_cpu);
// How many CPUs lapic_init_this_cpu found in x2APIC mode (left on by the
// firmware, e.g. OVMF with many CPUs) and switched to xAPIC.
unsigned lapic_x2apic_found();
uint32_t lapic_id();
void lapic_eoi();

// Timer: counts per millisecond at divide-by-16, measured against the PIT
// (without one, the TSC: calibrate_tsc must have run) over windows of `ms`
// milliseconds, the fewest kept (ShortestSample, timing.hpp; boot CPU,
// once). Returns the count.
uint32_t lapic_calibrate_timer(unsigned ms = 4);
uint32_t lapic_timer_counts_per_ms();
// Starts this CPU's timer: periodic, every `period_us`, on kTimerVector.
void lapic_timer_start(uint32_t period_us);
void lapic_timer_stop();

// IPIs (xAPIC: 8-bit destination). Each waits for the delivery to be sent;
// false when the ICR stayed busy.
bool lapic_send_init(uint32_t apic_id);
bool lapic_send_sipi(uint32_t apic_id, uint8_t page);
bool lapic_send_fixed(uint32_t apic_id, uint8_t vector);

// Busy-waits, by the TSC (calibrate_tsc must have run).
void delay_us(uint64_t us);

}  // namespace pf::arch
