// idt.cpp — GDT/TSS/IDT setup and the exception report. See idt.hpp.
//
// Invariant: exception_dispatch touches no allocator state and takes no
// lock, so it can report a fault that happens anywhere, including inside the
// allocator with its locks held.
#include "kernel/arch/x86_64/idt.hpp"

#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/mm/text.hpp"

extern "C" {
extern const uint64_t isr_stub_table[32];
extern char fault_stack_top[];
extern char kernel_stack_guard[];
// Probe state, shared with isr.S.
uint64_t probe_saved_rsp;
uint64_t probe_recovery_rip;
uint8_t probe_armed;
}

namespace pf::arch {

namespace {

struct [[gnu::packed]] Tss {
  uint32_t reserved0;
  uint64_t rsp[3];
  uint64_t reserved1;
  uint64_t ist[7];
  uint64_t reserved2;
  uint16_t reserved3;
  uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

struct [[gnu::packed]] TablePointer {
  uint16_t limit;
  uint64_t base;
};

struct IdtGate {
  uint16_t offset_low;
  uint16_t selector;
  uint8_t ist;
  uint8_t type_attr;
  uint16_t offset_mid;
  uint32_t offset_high;
  uint32_t reserved;
};
static_assert(sizeof(IdtGate) == 16);

constexpr uint16_t kKernelCode = 0x08, kKernelData = 0x10, kTssSelector = 0x18;

alignas(16) uint64_t g_gdt[5];
alignas(16) Tss g_tss;
alignas(16) IdtGate g_idt[256];
ProbeFault g_last_probe_fault;
const char* g_fault_context = nullptr;

const char* const kVectorNames[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow",
    "#BR bound range", "#UD invalid opcode", "#NM device not available",
    "#DF double fault", "coprocessor segment overrun", "#TS invalid TSS",
    "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved 15", "#MF x87 error", "#AC alignment check",
    "#MC machine check", "#XM SIMD error", "#VE virtualisation", "#CP control protection",
    "reserved 22", "reserved 23", "reserved 24", "reserved 25", "reserved 26",
    "reserved 27", "#HV hypervisor injection", "#VC VMM communication",
    "#SX security", "reserved 31"};

void set_gate(unsigned vector, uint64_t handler, uint8_t ist) {
  IdtGate& g = g_idt[vector];
  g.offset_low = static_cast<uint16_t>(handler);
  g.selector = kKernelCode;
  g.ist = ist;
  g.type_attr = 0x8E;  // present, DPL 0, 64-bit interrupt gate
  g.offset_mid = static_cast<uint16_t>(handler >> 16);
  g.offset_high = static_cast<uint32_t>(handler >> 32);
  g.reserved = 0;
}

void print_register(TextBuffer& t, const char* name, uint64_t v) {
  t.str(name).str("=").hex_padded(v, 16).str(" ");
}

}  // namespace

void install_cpu_tables() {
  g_gdt[0] = 0;
  g_gdt[1] = 0x00AF9A000000FFFF;  // 64-bit code, DPL 0
  g_gdt[2] = 0x00CF92000000FFFF;  // data
  const auto tss = reinterpret_cast<uint64_t>(&g_tss);
  const uint64_t limit = sizeof(Tss) - 1;
  g_gdt[3] = (limit & 0xFFFF) | ((tss & 0xFFFFFF) << 16) | (uint64_t{0x89} << 40) |
             (((limit >> 16) & 0xF) << 48) | (((tss >> 24) & 0xFF) << 56);
  g_gdt[4] = tss >> 32;
  g_tss.ist[0] = reinterpret_cast<uint64_t>(fault_stack_top);
  g_tss.iomap_base = sizeof(Tss);

  TablePointer gdtr{sizeof g_gdt - 1, reinterpret_cast<uint64_t>(g_gdt)};
  asm volatile(
      "lgdt %0\n\t"
      "pushq %1\n\t"
      "leaq 1f(%%rip), %%rax\n\t"
      "pushq %%rax\n\t"
      "lretq\n"
      "1:\n\t"
      "movw %w2, %%ax\n\t"
      "movw %%ax, %%ds\n\t"
      "movw %%ax, %%es\n\t"
      "movw %%ax, %%ss\n\t"
      "ltr %w3"
      :
      : "m"(gdtr), "i"(kKernelCode), "r"(uint64_t{kKernelData}), "r"(uint64_t{kTssSelector})
      : "rax", "memory");

  for (unsigned v = 0; v < 32; ++v) {
    // Double fault, NMI and machine check on the fault stack.
    const uint8_t ist = (v == 8 || v == 2 || v == 18) ? 1 : 0;
    set_gate(v, isr_stub_table[v], ist);
  }
  TablePointer idtr{sizeof g_idt - 1, reinterpret_cast<uint64_t>(g_idt)};
  asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

ProbeFault last_probe_fault() { return g_last_probe_fault; }
void set_fault_context(const char* what) { g_fault_context = what; }
const char* fault_context() { return g_fault_context; }

}  // namespace pf::arch

using pf::arch::ExceptionFrame;

extern "C" void exception_dispatch(ExceptionFrame* f) {
  const uint64_t cr2 = pf::arch::read_cr2();
  if (f->vector == 14 && probe_armed != 0) {
    probe_armed = 0;
    pf::arch::g_last_probe_fault = {cr2, f->error_code};
    f->rip = probe_recovery_rip;
    f->rsp = probe_saved_rsp;
    return;
  }

  char storage[640];
  pf::TextBuffer t(storage, sizeof storage);
  const char* name = f->vector < 32 ? pf::arch::kVectorNames[f->vector] : "unknown";
  t.nl().str("*** CPU exception ").dec(f->vector).str(" (").str(name).str(")")
      .str(" error=").hex(f->error_code).str(" rip=").hex(f->rip).str(" cr2=").hex(cr2).nl();
  const auto guard = reinterpret_cast<uint64_t>(kernel_stack_guard);
  if ((f->vector == 14 || f->vector == 8) && cr2 >= guard && cr2 < guard + 4096) {
    t.str("    cr2 is in the kernel stack's guard page: kernel stack overflow").nl();
  }
  if (f->vector == 14) {
    t.str("    page fault: ").str((f->error_code & 1) ? "protection violation" : "page not present")
        .str((f->error_code & 2) ? ", write" : ", read")
        .str((f->error_code & 16) ? ", instruction fetch" : "").nl();
  }
  t.str("    ");
  pf::arch::print_register(t, "rax", f->rax);
  pf::arch::print_register(t, "rbx", f->rbx);
  pf::arch::print_register(t, "rcx", f->rcx);
  pf::arch::print_register(t, "rdx", f->rdx);
  t.nl().str("    ");
  pf::arch::print_register(t, "rsi", f->rsi);
  pf::arch::print_register(t, "rdi", f->rdi);
  pf::arch::print_register(t, "rbp", f->rbp);
  pf::arch::print_register(t, "rsp", f->rsp);
  t.nl().str("    ");
  pf::arch::print_register(t, "cs", f->cs);
  pf::arch::print_register(t, "rflags", f->rflags);
  pf::arch::print_register(t, "cr3", pf::arch::read_cr3());
  t.nl();
  if (pf::arch::g_fault_context != nullptr) t.str("    while running: ").str(pf::arch::g_fault_context).nl();
  pf::arch::serial_write(t.c_str(), t.length());
  pf::arch::serial_puts("*** run ended by a CPU exception\n");
  pf::arch::exit_qemu(pf::arch::ExitCode::Fatal);
}
