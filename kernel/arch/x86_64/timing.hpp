// timing.hpp — time for the boot report: the TSC, calibrated once against
// the PIT (channel 2, gated through port 0x61, which needs no interrupts;
// channel 0, polled by read-back, on a machine without port 0x61); on a
// machine without a PIT, over one second of the CMOS RTC, and with
// neither, taken from CPUID or assumed (clock_source() says which).
// The LAPIC timer is calibrated against the PIT too, else the TSC (apic.cpp).
//
// Invariant after calibrate_tsc(): tsc_hz() > 0 and cycles_to_us() converts
// TSC deltas with that rate. Under QEMU's TCG both clocks are emulated, so the
// figures describe the emulation, not the host CPU.
#pragma once

#include <cstdint>

namespace pf::arch {

// Measures TSC ticks over `ms` milliseconds of PIT time (one second of the
// RTC's without a PIT); returns the rate.
uint64_t calibrate_tsc(unsigned ms = 20);
uint64_t tsc_hz();
// Busy-waits `ms` milliseconds of PIT time (no interrupts needed); false,
// having waited nothing, on a machine without a PIT.
bool pit_delay_ms(unsigned ms);
uint64_t cycles_to_us(uint64_t cycles);
// What calibrate_tsc measured against, for the report.
const char* clock_source();

}  // namespace pf::arch
