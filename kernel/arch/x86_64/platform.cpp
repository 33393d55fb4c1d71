// platform.cpp — the kernel's definitions of the pfalloc hooks (pfalloc.h).
//
// Every CPU runs the allocator with interrupts on (the timer allocates):
// irq_save/restore mask and restore IF around the allocator's per-CPU and
// locked sections. cpu_id is the index in this CPU's PerCpu (GS base, offset
// 8: one instruction). fatal ends the run with ExitCode::Fatal after
// printing the message and the CPU; log goes straight to COM1 (no
// buffering, so the last line before a crash is always out).
#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/kernel.hpp"
#include "kernel/mm/text.hpp"
#include "kernel/mm/pfalloc.h"

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

// A CPU spinning in the allocator (interrupts masked) still answers other
// CPUs' smp_sync_cpus requests, so none waits for it forever.
void pfalloc_hook_cpu_relax(void) {
  pf::arch::pause();
  pf::kernel::smp_service_sync();
}

unsigned int pfalloc_hook_cpu_id(void) { return pf::arch::this_cpu_index(); }

void pfalloc_hook_fatal(const char* message) {
  char storage[512];
  pf::TextBuffer t(storage, sizeof storage);
  t.nl().str("*** pfalloc fatal: ").str(message);
  if (const pf::arch::PerCpu* c = pf::arch::this_cpu_or_null()) t.str(" (on CPU ").dec(c->index).str(")");
  if (const char* what = pf::arch::fault_context()) t.nl().str("    while running: ").str(what);
  t.str("\n*** run ended by a fatal error\n");
  pf::arch::serial_write_panic(t.c_str(), t.length());
  pf::arch::exit_qemu(pf::arch::ExitCode::Fatal);
}

void pfalloc_hook_log(const char* text, size_t length) { pf::arch::serial_write(text, length); }

}  // extern "C"
