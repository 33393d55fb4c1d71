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

// Measures TSC ticks over windows of `ms` milliseconds of PIT time, the
// shortest kept (ShortestSample; one second of the RTC without a PIT);
// returns the rate.
uint64_t calibrate_tsc(unsigned ms = 4);
uint64_t tsc_hz();
// Busy-waits `ms` milliseconds of PIT time (no interrupts needed); false,
// having waited nothing, on a machine without a PIT.
bool pit_delay_ms(unsigned ms);
uint64_t cycles_to_us(uint64_t cycles);

// The shortest of repeated measurements of one interval, for measurements
// that can only come out long: a vCPU descheduled (a 4 ms host time slice
// on a loaded host) or waiting for QEMU's lock across the end of a
// countdown makes it late, nothing makes it early. Under load (two cores,
// load 4), 1 to 4 of every five 4 ms PIT countdowns came out near 8 ms,
// and once all five did: the TSC at 5186 MHz (2599 really). So samples
// are taken until two agree with the shortest within 0.5% (at least 3,
// at most kMax): the unloaded case pays 3 windows.
struct ShortestSample {
  static constexpr unsigned kMin = 3, kMax = 25;
  uint64_t best = ~uint64_t{0};
  unsigned agreeing = 0, taken = 0;
  void add(uint64_t v) {
    ++taken;
    if (v < best) {
      agreeing = best != ~uint64_t{0} && best - v <= v / 200 ? agreeing + 1 : 1;
      best = v;
    } else if (v - best <= best / 200) {
      ++agreeing;
    }
  }
  bool done() const { return taken >= kMax || (taken >= kMin && agreeing >= 2); }
};
// What calibrate_tsc measured against, for the report.
const char* clock_source();

}  // namespace pf::arch
