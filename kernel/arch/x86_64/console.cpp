// console.cpp — COM1 (16550 UART at 0x3f8), polled, and isa-debug-exit.
//
// Invariant: serial_write sends every byte it is given, '\n' as "\r\n", and
// never allocates or takes an allocator lock (the fatal path uses it).
// Lock: g_line_owner is 0 when free, else 1 + the writer's CPU index (or
// kMaxCpus + 1 before a CPU has its GS base); it is held with interrupts
// masked, and only around one write.
#include "kernel/arch/x86_64/console.hpp"

#include <atomic>

#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/percpu.hpp"

namespace pf::arch {

namespace {
constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kDebugExitPort = 0xf4;
std::atomic<uint32_t> g_line_owner{0};

void put_raw(char c) {
  // Line status bit 5: transmit holding register empty. Bounded so that a
  // machine without a UART cannot hang the kernel here.
  for (unsigned spin = 0; spin < 100000 && (inb(kCom1 + 5) & 0x20) == 0; ++spin) pause();
  outb(kCom1, static_cast<uint8_t>(c));
}

void put_all(const char* text, size_t length) {
  for (size_t i = 0; i < length; ++i) {
    if (text[i] == '\n') put_raw('\r');
    put_raw(text[i]);
  }
}

// Whether the lock was taken (false: it is this CPU's own, held by the write
// a fault interrupted, or `max_spins` ran out).
bool take_line(uint32_t me, uint64_t max_spins) {
  for (uint64_t spin = 0;; ++spin) {
    uint32_t expected = 0;
    if (g_line_owner.compare_exchange_weak(expected, me, std::memory_order_acquire)) return true;
    if (expected == me || spin >= max_spins) return false;
    pause();
  }
}

uint32_t line_id() {
  const PerCpu* c = this_cpu_or_null();
  return c != nullptr ? c->index + 1 : kMaxCpus + 1;
}
}  // namespace

void serial_init() {
  outb(kCom1 + 1, 0x00);  // no interrupts
  outb(kCom1 + 3, 0x80);  // DLAB on: divisor follows
  outb(kCom1 + 0, 0x01);  // 115200 baud
  outb(kCom1 + 1, 0x00);
  outb(kCom1 + 3, 0x03);  // 8N1, DLAB off
  outb(kCom1 + 2, 0xC7);  // FIFO on, cleared, 14-byte threshold
  outb(kCom1 + 4, 0x03);  // DTR, RTS
}

void serial_write(const char* text, size_t length) {
  const uint64_t flags = read_flags();
  cli();
  const bool locked = take_line(line_id(), ~uint64_t{0});
  put_all(text, length);
  if (locked) g_line_owner.store(0, std::memory_order_release);
  if (flags & kRflagsIf) asm volatile("sti" : : : "memory");
}

void serial_write_panic(const char* text, size_t length) {
  cli();
  const bool locked = take_line(line_id(), 50000000);
  put_all(text, length);
  if (locked) g_line_owner.store(0, std::memory_order_release);
}

void serial_puts(const char* text) {
  size_t n = 0;
  while (text[n] != '\0') ++n;
  serial_write(text, n);
}

void exit_qemu(ExitCode code) {
  outl(kDebugExitPort, static_cast<uint32_t>(code));
  // Not under QEMU (or no isa-debug-exit): stop here.
  halt_forever();
}

}  // namespace pf::arch
