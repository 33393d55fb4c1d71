// console.hpp — COM1 serial output and the QEMU exit port: the kernel's only
// channels to the outside world.
//
// The serial port is polled (no interrupts); writes are complete when they
// return. One write is one unit on the line: a lock keeps the lines of
// several CPUs from interleaving. The panic variant waits for that lock only
// for a bounded time and then writes anyway, so a fault report always comes
// out, even when the CPU holding the lock is the one that faulted. Exit codes: writing v to isa-debug-exit (port 0xf4) ends QEMU with
// status (v << 1) | 1; on a machine without that device the CPU halts.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pf::arch {

void serial_init();
void serial_write(const char* text, size_t length);
void serial_puts(const char* text);
void serial_write_panic(const char* text, size_t length);

// The agreed codes (QEMU's status in parentheses).
enum class ExitCode : uint8_t {
  Success = 0x10,      // (33) run finished / every test passed
  TestsFailed = 0x11,  // (35) the summary line has failures
  Fatal = 0x12,        // (37) a fatal error, a fault, a broken invariant
};
[[noreturn]] void exit_qemu(ExitCode code);

}  // namespace pf::arch
