// timing.cpp — TSC calibration against the PIT (channel 2, else 0). See timing.hpp.
#include "kernel/arch/x86_64/timing.hpp"

#include "kernel/arch/x86_64/cpu.hpp"

namespace pf::arch {

namespace {
constexpr uint64_t kPitHz = 1193182;
constexpr uint16_t kPitChannel0 = 0x40, kPitChannel2 = 0x42, kPitCommand = 0x43, kPort61 = 0x61;
uint64_t g_tsc_hz = 0;

// Which PIT output the countdowns watch. Channel 2, gated and read through
// port 0x61, needs nothing else of the machine; but a machine without that
// port (-M microvm: no i8255, port 0x61 reads 0xff) shows OUT2 high at once,
// and every countdown then "ended" after a few cycles: the TSC came out at
// a few MHz, the LAPIC timer at 178 counts/ms, and every time in the report
// was 40 times too long. Such a machine still has the PIT, so there the
// countdown runs on channel 0 and its OUT pin is read back by the PIT's
// read-back command. (Channel 0's IRQ 0 stays masked: the kernel keeps
// interrupts off until the 8259s are masked, and uses the LAPIC timer.)
enum class PitOut : uint8_t { Unknown, Channel2, Channel0 };
PitOut g_pit_out = PitOut::Unknown;

void start_channel2(uint16_t ticks) {
  // Gate on, speaker off.
  outb(kPort61, static_cast<uint8_t>((inb(kPort61) & ~0x02) | 0x01));
  outb(kPitCommand, 0xB0);  // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count)
  outb(kPitChannel2, static_cast<uint8_t>(ticks));
  outb(kPitChannel2, static_cast<uint8_t>(ticks >> 8));
  // Restart the count by toggling the gate.
  const uint8_t v = inb(kPort61);
  outb(kPort61, static_cast<uint8_t>(v & ~0x01));
  outb(kPort61, static_cast<uint8_t>(v | 0x01));
}
bool channel2_out() { return (inb(kPort61) & 0x20) != 0; }

void start_channel0(uint16_t ticks) {
  outb(kPitCommand, 0x30);  // channel 0, lobyte/hibyte, mode 0: OUT low until terminal count
  outb(kPitChannel0, static_cast<uint8_t>(ticks));
  outb(kPitChannel0, static_cast<uint8_t>(ticks >> 8));
}
bool channel0_out() {
  outb(kPitCommand, 0xE2);  // read-back: status only (count not latched), channel 0
  return (inb(kPitChannel0) & 0x80) != 0;  // status bit 7: the OUT pin
}

// In mode 0 OUT falls when the count is loaded and rises at terminal count:
// an output already high right after a long count was started is not there.
PitOut pick_pit_out() {
  start_channel2(0xFFFF);
  if (inb(kPort61) != 0xFF && !channel2_out()) return PitOut::Channel2;
  return PitOut::Channel0;
}

// One PIT countdown of `ticks` (< 65536); returns TSC cycles.
uint64_t measure_pit_countdown(uint16_t ticks) {
  if (g_pit_out == PitOut::Unknown) g_pit_out = pick_pit_out();
  const bool ch2 = g_pit_out == PitOut::Channel2;
  if (ch2) start_channel2(ticks); else start_channel0(ticks);
  const uint64_t start = rdtsc();
  // OUT rises at terminal count. Bounded: a missing PIT must not hang.
  for (uint64_t spin = 0; !(ch2 ? channel2_out() : channel0_out()) && spin < 100000000; ++spin) {
  }
  return rdtsc() - start;
}
}  // namespace

const char* pit_source() {
  switch (g_pit_out) {
    case PitOut::Channel2: return "PIT channel 2";
    case PitOut::Channel0: return "PIT channel 0 (no port 0x61)";
    default: return "not calibrated";
  }
}

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
