// idt.hpp — each CPU's GDT (with its own TSS and IST stack), the one IDT all
// CPUs share (all 256 vectors), and what an exception does: print vector,
// name, error code, RIP, CR2, the registers and the CPU it happened on, on
// serial, then end the run with ExitCode::Fatal. A fault on any CPU is never
// a silent reset.
//
// Vectors 0-31 are exceptions; 32-255 go to the handler registered with
// set_irq_handler(), and one that arrives without a handler is reported as a
// fatal "unexpected interrupt" (a vector nobody programmed is a bug).
//
// The one exception to "fatal": a page fault inside an armed probe
// (arch_probe_*), which the tests use to prove that a page is unmapped,
// read-only or not executable. The probe gets 1 and the fault is recorded.
// Probe state is per CPU (percpu.hpp), so CPUs can probe at the same time.
//
// #DF, NMI and #MC run on the CPU's IST stack (IST 1) so that a kernel stack
// overflow into the guard page still produces a report.
#pragma once

#include <cstdint>

namespace pf::arch {

struct PerCpu;

struct ExceptionFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

// Loads this CPU's GDT and TSS (IST 1 = cpu.ist_top), the shared IDT (built
// on the first call) and points GS base at `cpu`. The boot CPU calls it
// first thing in kernel_main, each AP first thing after its trampoline.
void install_cpu_tables(PerCpu& cpu);

// Interrupt handlers run with interrupts masked, on the interrupted stack.
using IrqHandler = void (*)(ExceptionFrame& frame);
void set_irq_handler(uint8_t vector, IrqHandler handler);

// A name printed with any fault report on this CPU ("while running: ..."),
// e.g. the test case in progress; nullptr clears it.
void set_fault_context(const char* what);
const char* fault_context();

// Prints the report for `f` (as an exception would) and ends the run with
// ExitCode::Fatal; `what` replaces the vector's name when not null.
[[noreturn]] void fatal_frame(const ExceptionFrame& f, const char* what);

// What the last probe fault on this CPU recorded (valid after a probe returned 1).
struct ProbeFault {
  uint64_t address;     // CR2
  uint64_t error_code;  // #PF error code: bit 0 present, 1 write, 4 instruction fetch
};
ProbeFault last_probe_fault();

}  // namespace pf::arch

extern "C" {
int arch_probe_read(const void* address);
int arch_probe_write(void* address);
int arch_probe_exec(const void* address);
// A lone `ret` in the kernel's text: the exec probe's positive control.
void arch_ret_instruction();
}
