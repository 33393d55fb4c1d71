// console.cpp — COM1 (16550 UART at 0x3f8), polled, and isa-debug-exit.
//
// Invariant: serial_write sends every byte it is given, '\n' as "\r\n", and
// never allocates or takes an allocator lock (the fatal path uses it).
#include "kernel/arch/x86_64/console.hpp"

#include "kernel/arch/x86_64/cpu.hpp"

namespace pf::arch {

namespace {
constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kDebugExitPort = 0xf4;

void put_raw(char c) {
  // Line status bit 5: transmit holding register empty. Bounded so that a
  // machine without a UART cannot hang the kernel here.
  for (unsigned spin = 0; spin < 100000 && (inb(kCom1 + 5) & 0x20) == 0; ++spin) pause();
  outb(kCom1, static_cast<uint8_t>(c));
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
  for (size_t i = 0; i < length; ++i) {
    if (text[i] == '\n') put_raw('\r');
    put_raw(text[i]);
  }
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
