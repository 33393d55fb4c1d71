// platform.cpp — the kernel's definitions of the pfalloc hooks (pfalloc.h).
//
// One CPU, interrupts masked for the whole run: irq_save/restore still do
// the real pushf/cli/popf dance so the allocator's locks behave as they would
// in a kernel that takes interrupts. fatal ends the run with ExitCode::Fatal
// after printing the message; log goes straight to COM1 (no buffering, so
// the last line before a crash is always out).
#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/mm/pfalloc.h"
#include "kernel/mm/platform.hpp"

extern "C" {

unsigned long pfalloc_hook_irq_save(void) {
  unsigned long flags;
  asm volatile("pushfq; popq %0; cli" : "=r"(flags) : : "memory");
  return flags;
}

void pfalloc_hook_irq_restore(unsigned long flags) {
  // Restores IF exactly as it was; the rest of RFLAGS is the compiler's.
  if (flags & pf::arch::kRflagsIf) asm volatile("sti" : : : "memory");
}

void pfalloc_hook_cpu_relax(void) { pf::arch::pause(); }

unsigned int pfalloc_hook_cpu_id(void) { return pf::platform::cpu_id_claim(); }

// One CPU runs allocator code today: nothing to wait for. With APs online
// this must make every other online CPU execute a full barrier (an IPI each
// answers, or waiting for each to pass pf_cpu_service(), servicing our own
// meanwhile) — see kernel/mm/cpu_cache.hpp.
void pfalloc_hook_sync_cpus(void) {}

void pfalloc_hook_fatal(const char* message) {
  pf::arch::serial_puts("\n*** pfalloc fatal: ");
  pf::arch::serial_puts(message);
  if (const char* what = pf::arch::fault_context()) {
    pf::arch::serial_puts("\n    while running: ");
    pf::arch::serial_puts(what);
  }
  pf::arch::serial_puts("\n*** run ended by a fatal error\n");
  pf::arch::exit_qemu(pf::arch::ExitCode::Fatal);
}

void pfalloc_hook_log(const char* text, size_t length) { pf::arch::serial_write(text, length); }

}  // extern "C"
