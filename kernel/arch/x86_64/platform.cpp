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
#include "kernel/mm/platform.hpp"

extern "C" {

// The fast-path hooks are defined inline in hooks/pfalloc_hooks.hpp (what
// the core compiles against in this build); the C names forward to them.
unsigned long pfalloc_hook_irq_save(void) { return pf::platform::irq_save(); }
void pfalloc_hook_irq_restore(unsigned long flags) { pf::platform::irq_restore(flags); }

// A CPU spinning in the allocator (interrupts masked) still answers other
// CPUs' smp_sync_cpus requests, so none waits for it forever.
void pfalloc_hook_cpu_relax(void) {
  pf::arch::pause();
  pf::kernel::smp_service_sync();
}

unsigned int pfalloc_hook_cpu_id(void) { return pf::platform::cpu_id(); }

// The allocator's stopper (cpu_cache.hpp) needs every other online CPU to
// execute a full barrier: the IPI barrier every CPU answers, also while it
// spins with interrupts masked (see pfalloc_hook_cpu_relax).
void pfalloc_hook_sync_cpus(void) { pf::kernel::smp_sync_cpus(); }

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
