// idt.hpp — the kernel's GDT (with a TSS), its IDT, and what an exception
// does: print vector, name, error code, RIP, CR2 and the registers on serial,
// then end the run with ExitCode::Fatal. A fault is never a silent reset.
//
// The one exception to "fatal": a page fault inside an armed probe
// (arch_probe_*), which the tests use to prove that a page is unmapped,
// read-only or not executable. The probe gets 1 and the fault is recorded.
//
// #DF runs on its own stack (IST 1) so that a kernel stack overflow into the
// guard page still produces a report.
#pragma once

#include <cstdint>

namespace pf::arch {

struct ExceptionFrame {
  uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
  uint64_t vector, error_code;
  uint64_t rip, cs, rflags, rsp, ss;  // pushed by the CPU
};

// Loads the GDT, TSS and IDT. Call first thing in kernel_main.
void install_cpu_tables();

// A name printed with any fault report ("while running: ..."), e.g. the
// test case in progress; nullptr clears it.
void set_fault_context(const char* what);
const char* fault_context();

// What the last probe fault recorded (valid after a probe returned 1).
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
