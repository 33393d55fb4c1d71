// apic.cpp — 8259 PICs and the local APIC. See apic.hpp.
#include "kernel/arch/x86_64/apic.hpp"

#include <atomic>

#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/arch/x86_64/timing.hpp"

namespace pf::arch {

namespace {
// xAPIC register offsets.
constexpr uint32_t kId = 0x20, kTpr = 0x80, kEoi = 0xB0, kSvr = 0xF0, kEsr = 0x280,
                   kIcrLow = 0x300, kIcrHigh = 0x310, kLvtTimer = 0x320, kLvtLint0 = 0x350,
                   kLvtLint1 = 0x360, kLvtError = 0x370, kTimerInitial = 0x380,
                   kTimerCurrent = 0x390, kTimerDivide = 0x3E0;
constexpr uint32_t kLvtMasked = 1u << 16, kTimerPeriodic = 1u << 17, kSvrEnable = 1u << 8;
constexpr uint32_t kIcrPending = 1u << 12, kIcrAssert = 1u << 14;
constexpr uint32_t kIcrInit = 5u << 8, kIcrStartup = 6u << 8, kDeliverNmi = 4u << 8;
constexpr uint32_t kDivideBy16 = 0x3;

constexpr uint16_t kPic1Cmd = 0x20, kPic1Data = 0x21, kPic2Cmd = 0xA0, kPic2Data = 0xA1;

volatile uint32_t* g_lapic = nullptr;
uint32_t g_counts_per_ms = 0;
bool g_handlers_installed = false;
std::atomic<unsigned> g_x2apic_found{0};  // CPUs the firmware left in x2APIC mode

uint32_t rd(uint32_t reg) { return g_lapic[reg / 4]; }
void wr(uint32_t reg, uint32_t v) { g_lapic[reg / 4] = v; }

void io_wait() { outb(0x80, 0); }

// A PIC line that fires although every line is masked is spurious (IRQ 7 or
// 15): the master gets no EOI for its own spurious IRQ 7; a spurious IRQ 15
// still needs an EOI at the master (the cascade line was real).
void on_pic_vector(ExceptionFrame& f) {
  const unsigned irq = static_cast<unsigned>(f.vector - kPicBase);
  const uint16_t cmd = irq < 8 ? kPic1Cmd : kPic2Cmd;
  outb(cmd, 0x0B);  // read the in-service register
  const uint8_t isr = inb(cmd);
  if (isr & (1u << (irq & 7))) {
    fatal_frame(f, "legacy PIC interrupt although every line is masked");
  }
  if (irq >= 8) outb(kPic1Cmd, 0x20);
  this_cpu().spurious.fetch_add(1, std::memory_order_relaxed);
}

void on_spurious(ExceptionFrame&) { this_cpu().spurious.fetch_add(1, std::memory_order_relaxed); }
void on_wake(ExceptionFrame&) {
  this_cpu().wake_ipis.fetch_add(1, std::memory_order_relaxed);
  lapic_eoi();
}

bool wait_icr_idle() {
  for (uint64_t spin = 0; spin < 10000000; ++spin) {
    if ((rd(kIcrLow) & kIcrPending) == 0) return true;
    pause();
  }
  return false;
}

bool send_ipi(uint32_t apic_id, uint32_t low) {
  if (!wait_icr_idle()) return false;
  const uint64_t flags = read_flags();
  cli();  // the two writes must not be split by an interrupt that sends an IPI too
  wr(kIcrHigh, apic_id << 24);
  wr(kIcrLow, low);
  if (flags & kRflagsIf) asm volatile("sti" : : : "memory");
  return wait_icr_idle();
}
}  // namespace

uint64_t lapic_phys_base() { return rdmsr(kMsrApicBase) & 0x000ffffffffff000ull; }
bool cpu_has_apic() { return (cpuid(1).edx >> 9) & 1; }

void pic_remap_and_mask() {
  for (unsigned v = 0; v < 16; ++v) set_irq_handler(static_cast<uint8_t>(kPicBase + v), &on_pic_vector);
  outb(kPic1Cmd, 0x11);  // ICW1: init, ICW4 follows
  io_wait();
  outb(kPic2Cmd, 0x11);
  io_wait();
  outb(kPic1Data, kPicBase);  // ICW2: vector base
  io_wait();
  outb(kPic2Data, kPicBase + 8);
  io_wait();
  outb(kPic1Data, 0x04);  // ICW3: slave on IRQ 2
  io_wait();
  outb(kPic2Data, 0x02);
  io_wait();
  outb(kPic1Data, 0x01);  // ICW4: 8086 mode
  io_wait();
  outb(kPic2Data, 0x01);
  io_wait();
  outb(kPic1Data, 0xFF);  // every line masked
  outb(kPic2Data, 0xFF);
}

void lapic_set_base(uint64_t virt) { g_lapic = reinterpret_cast<volatile uint32_t*>(virt); }

void lapic_init_this_cpu(bool boot_cpu) {
  if (!g_handlers_installed) {
    set_irq_handler(kSpuriousVector, &on_spurious);
    set_irq_handler(kWakeVector, &on_wake);
    g_handlers_installed = true;
  }
  // xAPIC mode, enabled (the base address as the firmware left it). A
  // firmware that left x2APIC mode on must see the APIC disabled first:
  // x2APIC -> xAPIC directly is an invalid transition (#GP).
  const uint64_t base = rdmsr(kMsrApicBase);
  if (base & kApicBaseX2) {
    wrmsr(kMsrApicBase, base & ~(kApicBaseX2 | kApicBaseEnable));
    g_x2apic_found.fetch_add(1, std::memory_order_relaxed);
  }
  wrmsr(kMsrApicBase, (base | kApicBaseEnable) & ~kApicBaseX2);
  wr(kTpr, 0);
  wr(kLvtTimer, kLvtMasked | kTimerVector);
  wr(kLvtLint0, kLvtMasked);  // ExtINT from the 8259s: masked with them
  wr(kLvtLint1, boot_cpu ? kDeliverNmi : kLvtMasked);
  wr(kLvtError, kLvtMasked | kSpuriousVector);
  wr(kEsr, 0);
  wr(kEsr, 0);
  wr(kSvr, kSvrEnable | kSpuriousVector);
  lapic_eoi();  // anything left in service by the firmware
}

unsigned lapic_x2apic_found() { return g_x2apic_found.load(std::memory_order_relaxed); }

uint32_t lapic_id() { return rd(kId) >> 24; }
void lapic_eoi() { wr(kEoi, 0); }

// Against the PIT, on the same clock as the LAPIC's under TCG (QEMU's
// virtual clock); without a PIT, against the TSC (calibrated first,
// timing.cpp). Windows of `ms`, the fewest counts per ms kept
// (ShortestSample, timing.hpp): one window, as before, made 2 boots in 6
// under load calibrate 15% and 31% high (a longer tick, longer timeouts).
uint32_t lapic_calibrate_timer(unsigned ms) {
  if (ms == 0) ms = 1;
  wr(kTimerDivide, kDivideBy16);
  wr(kLvtTimer, kLvtMasked | kTimerVector);  // one-shot, masked: only the count matters
  wr(kTimerInitial, 0xFFFFFFFFu);            // ~68 s at 1 GHz / 16: no wrap here
  ShortestSample per_ms;
  while (!per_ms.done()) {
    const uint32_t before = rd(kTimerCurrent);
    const uint64_t t0 = rdtsc();
    const bool pit = pit_delay_ms(ms);
    if (!pit) delay_us(uint64_t{ms} * 1000);
    const uint32_t counts = before - rd(kTimerCurrent);
    const uint64_t us = pit ? uint64_t{ms} * 1000 : cycles_to_us(rdtsc() - t0);
    per_ms.add(us ? uint64_t{counts} * 1000 / us : counts);
  }
  const uint64_t best = per_ms.best;
  wr(kTimerInitial, 0);
  g_counts_per_ms = static_cast<uint32_t>(best > 0xFFFFFFFFu ? 0xFFFFFFFFu : best);
  if (g_counts_per_ms == 0) g_counts_per_ms = 1;
  return g_counts_per_ms;
}
uint32_t lapic_timer_counts_per_ms() { return g_counts_per_ms; }

void lapic_timer_start(uint32_t period_us) {
  uint64_t count = uint64_t{g_counts_per_ms} * period_us / 1000;
  if (count == 0) count = 1;
  if (count > 0xFFFFFFFFu) count = 0xFFFFFFFFu;
  wr(kTimerDivide, kDivideBy16);
  wr(kLvtTimer, kTimerPeriodic | kTimerVector);
  wr(kTimerInitial, static_cast<uint32_t>(count));
}

void lapic_timer_stop() {
  wr(kLvtTimer, kLvtMasked | kTimerVector);
  wr(kTimerInitial, 0);
}

bool lapic_send_init(uint32_t apic_id) { return send_ipi(apic_id, kIcrInit | kIcrAssert); }
bool lapic_send_sipi(uint32_t apic_id, uint8_t page) {
  return send_ipi(apic_id, kIcrStartup | kIcrAssert | page);
}
bool lapic_send_fixed(uint32_t apic_id, uint8_t vector) {
  return send_ipi(apic_id, kIcrAssert | vector);
}

void delay_us(uint64_t us) {
  const uint64_t hz = tsc_hz();
  const uint64_t cycles = hz / 1000000 * us + (hz % 1000000) * us / 1000000;
  const uint64_t start = rdtsc();
  while (rdtsc() - start < cycles) pause();
}

}  // namespace pf::arch
