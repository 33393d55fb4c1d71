// timing.cpp — TSC calibration against the PIT (channel 2, else 0), else the
// RTC's seconds, else CPUID's frequency leaves. See timing.hpp.
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
//
// And a machine without the PIT at all (-M microvm,pit=off): port 0x43 goes
// nowhere and channel 0's status reads 0xff, OUT "high" at once again; the
// LAPIC timer came out at 210 counts/ms (62500 really), the tick fired
// every few microseconds and smp_stress_cross_cpu_frees failed. There the
// TSC is measured over one second of the CMOS RTC's clock, and with
// no RTC either (rtc=off) it is read from CPUID (leaf 0x15 or 0x16) or, last,
// assumed; the report says which (clock_source()).
enum class PitOut : uint8_t { Unknown, Channel2, Channel0, Rtc, None };
PitOut g_pit_out = PitOut::Unknown;
const char* g_assumed = "not calibrated";  // PitOut::None: where the rate came from

// The start_* functions return the TSC read just before the write that
// starts the count (the high byte; channel 2's gate only pauses a mode 0
// count), so that a countdown's cycles come out long, not short, when the
// vCPU stalls around the start (ShortestSample, timing.hpp).
uint64_t start_channel2(uint16_t ticks) {
  // Gate on, speaker off.
  outb(kPort61, static_cast<uint8_t>((inb(kPort61) & ~0x02) | 0x01));
  outb(kPitCommand, 0xB0);  // channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count)
  outb(kPitChannel2, static_cast<uint8_t>(ticks));
  const uint64_t tsc = rdtsc();
  outb(kPitChannel2, static_cast<uint8_t>(ticks >> 8));
  // Restart the count by toggling the gate.
  const uint8_t v = inb(kPort61);
  outb(kPort61, static_cast<uint8_t>(v & ~0x01));
  outb(kPort61, static_cast<uint8_t>(v | 0x01));
  return tsc;
}
bool channel2_out() { return (inb(kPort61) & 0x20) != 0; }

uint64_t start_channel0(uint16_t ticks) {
  outb(kPitCommand, 0x30);  // channel 0, lobyte/hibyte, mode 0: OUT low until terminal count
  outb(kPitChannel0, static_cast<uint8_t>(ticks));
  const uint64_t tsc = rdtsc();
  outb(kPitChannel0, static_cast<uint8_t>(ticks >> 8));  // the count starts with its high byte
  return tsc;
}
bool channel0_out() {
  outb(kPitCommand, 0xE2);  // read-back: status only (count not latched), channel 0
  return (inb(kPitChannel0) & 0x80) != 0;  // status bit 7: the OUT pin
}

// The MC146818 RTC: index port 0x70, data 0x71. Register A: divider
// (bits 6-4, 010 = the 32.768 kHz time base, bit 7 the read-only
// update-in-progress flag); register 0: the seconds.
constexpr uint16_t kCmosIndex = 0x70, kCmosData = 0x71;
constexpr uint8_t kRtcSeconds = 0x00, kRtcA = 0x0A, kRtcADivider = 0x70, kRtcARunning = 0x20;
uint8_t cmos_read(uint8_t reg) {
  outb(kCmosIndex, reg);
  return inb(kCmosData);
}
// Present and counting time: an absent RTC reads 0xff.
bool rtc_present() { return (cmos_read(kRtcA) & kRtcADivider) == kRtcARunning; }

// TSC cycles over one second of the RTC: from one change of its seconds
// register to the next (at most 2 s of boot time; only a machine without a
// PIT pays it). Not the periodic flag (register C, 1024 Hz): QEMU raises it
// from a timer callback in its main loop, which the polling vCPU starves,
// and the callbacks then came late and in bursts (the LAPIC timer came out
// at 5098 to 28360 counts/ms, 62500 really); the time registers are
// computed from QEMU's clock when read, the way the PIT's counter is.
// 0: the seconds never changed (a stopped RTC; bounded, a boot must not hang).
uint64_t measure_rtc_second() {
  auto next_edge = [](uint8_t* sec) {
    for (uint64_t spin = 0; spin < 200000000; ++spin) {
      const uint8_t now = cmos_read(kRtcSeconds);
      if (now != *sec) {
        *sec = now;
        return true;
      }
    }
    return false;
  };
  uint8_t sec = cmos_read(kRtcSeconds);
  if (!next_edge(&sec)) return 0;
  const uint64_t start = rdtsc();
  if (!next_edge(&sec)) return 0;
  return rdtsc() - start;
}

// In mode 0 OUT falls when the count is loaded and rises at terminal count:
// an output already high right after a long count was started is not there.
// Channel 0's read-back status names the mode just programmed (bits 5-0:
// lobyte/hibyte, mode 0) when a PIT is there; nothing answers 0xff.
PitOut pick_pit_out() {
  start_channel2(0xFFFF);
  if (inb(kPort61) != 0xFF && !channel2_out()) return PitOut::Channel2;
  start_channel0(0xFFFF);
  outb(kPitCommand, 0xE2);
  if ((inb(kPitChannel0) & 0x3F) == 0x30) return PitOut::Channel0;
  return rtc_present() ? PitOut::Rtc : PitOut::None;
}

// No PIT and no RTC: CPUID leaf 0x15 (TSC = crystal * EBX / EAX, when the
// crystal's rate is given), else leaf 0x16 (base MHz), else an assumption.
uint64_t tsc_hz_without_clock() {
  const uint32_t max_leaf = cpuid(0).eax;
  if (max_leaf >= 0x15) {
    const auto r = cpuid(0x15);
    if (r.eax != 0 && r.ebx != 0 && r.ecx != 0) {
      g_assumed = "not measured: no PIT, no RTC; from CPUID leaf 0x15";
      return uint64_t{r.ecx} * r.ebx / r.eax;
    }
  }
  if (max_leaf >= 0x16 && (cpuid(0x16).eax & 0xFFFF) != 0) {
    g_assumed = "not measured: no PIT, no RTC; CPUID leaf 0x16's base frequency";
    return uint64_t{cpuid(0x16).eax & 0xFFFF} * 1000000;
  }
  g_assumed = "not measured: no PIT, no RTC, no CPUID frequency; 2 GHz assumed, times are guesses";
  return 2000000000;
}

// One PIT countdown of `ticks` (< 65536); returns TSC cycles.
uint64_t measure_pit_countdown(uint16_t ticks) {
  if (g_pit_out == PitOut::Unknown) g_pit_out = pick_pit_out();
  const bool ch2 = g_pit_out == PitOut::Channel2;
  const uint64_t start = ch2 ? start_channel2(ticks) : start_channel0(ticks);
  // OUT rises at terminal count. Bounded: a missing PIT must not hang.
  for (uint64_t spin = 0; !(ch2 ? channel2_out() : channel0_out()) && spin < 100000000; ++spin) {
  }
  return rdtsc() - start;
}
}  // namespace

const char* clock_source() {
  switch (g_pit_out) {
    case PitOut::Channel2: return "calibrated against the PIT channel 2";
    case PitOut::Channel0: return "calibrated against the PIT channel 0 (no port 0x61)";
    case PitOut::Rtc: return "calibrated over a second of the RTC (no PIT)";
    case PitOut::None: return g_assumed;
    default: return "not calibrated";
  }
}

uint64_t calibrate_tsc(unsigned ms) {
  if (g_pit_out == PitOut::Unknown) g_pit_out = pick_pit_out();
  if (g_pit_out == PitOut::Rtc) {
    if ((g_tsc_hz = measure_rtc_second()) != 0) return g_tsc_hz;
    g_pit_out = PitOut::None;  // the seconds never changed
  }
  if (g_pit_out == PitOut::None) {
    g_tsc_hz = tsc_hz_without_clock();
    return g_tsc_hz;
  }
  // Countdowns of `ms` (at most 50: 65535 ticks is ~54.9 ms), the shortest
  // kept (ShortestSample, timing.hpp). One countdown of 20 ms, as before,
  // kept whatever delay the host dealt it: up to 4 ms late, 20% high.
  const unsigned step = ms == 0 ? 1 : ms > 50 ? 50 : ms;
  const auto ticks = static_cast<uint16_t>(kPitHz * step / 1000);
  ShortestSample cycles;
  while (!cycles.done()) cycles.add(measure_pit_countdown(ticks));
  g_tsc_hz = cycles.best * kPitHz / ticks;
  if (g_tsc_hz == 0) g_tsc_hz = 1;  // keep divisions defined on a broken PIT
  return g_tsc_hz;
}

uint64_t tsc_hz() { return g_tsc_hz; }

bool pit_delay_ms(unsigned ms) {
  if (g_pit_out == PitOut::Unknown) g_pit_out = pick_pit_out();
  if (g_pit_out != PitOut::Channel2 && g_pit_out != PitOut::Channel0) return false;
  while (ms > 0) {
    const unsigned step = ms > 50 ? 50 : ms;
    measure_pit_countdown(static_cast<uint16_t>(kPitHz * step / 1000));
    ms -= step;
  }
  return true;
}

uint64_t cycles_to_us(uint64_t cycles) {
  if (g_tsc_hz == 0) return 0;
  // Split to avoid overflow for large deltas.
  return cycles / g_tsc_hz * 1000000 + (cycles % g_tsc_hz) * 1000000 / g_tsc_hz;
}

}  // namespace pf::arch
