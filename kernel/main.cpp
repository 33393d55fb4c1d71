// main.cpp — (bring-up) kernel entry.
#include <cstdint>

#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/rt/runtime.hpp"

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint32_t info, uint64_t boot_tsc) {
  (void)magic; (void)info; (void)boot_tsc;
  pf::arch::serial_init();
  pf::arch::serial_puts("pfalloc kernel: hello\n");
  pf::arch::install_cpu_tables();
  pf::rt::run_global_constructors();
  pf::arch::exit_qemu(pf::arch::ExitCode::Success);
}
