// timing.cpp — TSC calibration against PIT channel 2. See timing.hpp.
#include "kernel/arch/x86_64/timing.hpp"

#include "kernel/arch/x86_64/cpu.hpp"

namespace pf::arch {

namespace {
constexpr uint64_t kPitHz = 1193182;
constexpr uint16_t kPitChannel2 = 0x42, kPitCommand = 0x43, kPort61 = 0x61;
uint64_t g_tsc_hz = 0;

// One PIT countdown of `ticks` (< 65536) on channel 2; returns TSC cycles.
uint64_t measure_pit_countdown(uint16_t ticks) {
  // Gate on, speaker off.
  outb(kPort61, static_cast<uint8_t>((inb(kPort61) & ~0x02) | 0x01));
  outb(kPitCommand, 0xB0);  // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count)
  outb(kPitChannel2, static_cast<uint8_t>(ticks));
  outb(kPitChannel2, static_cast<uint8_t>(ticks >> 8));
  // Restart the count by toggling the gate.
  uint8_t v = inb(kPort61);
  outb(kPort61, static_cast<uint8_t>(v & ~0x01));
  outb(kPort61, static_cast<uint8_t>(v | 0x01));
  const uint64_t start = rdtsc();
  // OUT2 (bit 5) rises at terminal count. Bounded: a missing PIT must not hang.
  for (uint64_t spin = 0; (inb(kPort61) & 0x20) == 0 && spin < 100000000; ++spin) {
  }
  return rdtsc() - start;
}
}  // namespace

uint64_t calibrate_tsc(unsigned ms) {
  // Split into countdowns of at most 50 ms (65535 ticks is ~54.9 ms).
  uint64_t cycles = 0, ticks_total = 0;
  while (ms > 0) {
    const unsigned step = ms > 50 ? 50 : ms;
    const auto ticks = static_cast<uint16_t>(kPitHz * step / 1000);
    cycles += measure_pit_countdown(ticks);
    ticks_total += ticks;
    ms -= step;
  }
  g_tsc_hz = ticks_total ? cycles * kPitHz / ticks_total : 0;
  if (g_tsc_hz == 0) g_tsc_hz = 1;  // keep divisions defined on a broken PIT
  return g_tsc_hz;
}

uint64_t tsc_hz() { return g_tsc_hz; }

void pit_delay_ms(unsigned ms) {
  while (ms > 0) {
    const unsigned step = ms > 50 ? 50 : ms;
    measure_pit_countdown(static_cast<uint16_t>(kPitHz * step / 1000));
    ms -= step;
  }
}

uint64_t cycles_to_us(uint64_t cycles) {
  if (g_tsc_hz == 0) return 0;
  // Split to avoid overflow for large deltas.
  return cycles / g_tsc_hz * 1000000 + (cycles % g_tsc_hz) * 1000000 / g_tsc_hz;
}

}  // namespace pf::arch
