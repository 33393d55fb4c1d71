// idt.cpp — per-CPU GDT/TSS, the shared IDT, the exception report and the
// dispatch of interrupt vectors. See idt.hpp.
//
// Invariant: the exception path touches no allocator state and takes no
// allocator lock, so it can report a fault that happens anywhere, including
// inside the allocator with its locks held, on any CPU. Its only lock is the
// serial line's, which gives up waiting (console.cpp) rather than deadlock.
#include "kernel/arch/x86_64/idt.hpp"

#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/mm/text.hpp"

extern "C" {
extern const uint64_t isr_stub_table[256];
}

namespace pf::arch {

PerCpu g_cpus[kMaxCpus];

namespace {

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

alignas(16) IdtGate g_idt[256];
bool g_idt_built = false;
IrqHandler g_irq_handlers[256];

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
  g.type_attr = 0x8E;  // present, DPL 0, 64-bit interrupt gate: IF cleared on entry
  g.offset_mid = static_cast<uint16_t>(handler >> 16);
  g.offset_high = static_cast<uint32_t>(handler >> 32);
  g.reserved = 0;
}

void build_idt() {
  for (unsigned v = 0; v < 256; ++v) {
    // Double fault, NMI and machine check on the CPU's IST stack.
    const uint8_t ist = (v == 8 || v == 2 || v == 18) ? 1 : 0;
    set_gate(v, isr_stub_table[v], ist);
  }
  g_idt_built = true;
}

void print_register(TextBuffer& t, const char* name, uint64_t v) {
  t.str(name).str("=").hex_padded(v, 16).str(" ");
}

// Which guard page `addr` falls in, if any: "kernel stack" / "IST stack" of
// CPU *cpu (the boot CPU's are the image's, set in PerCpu by kernel_main).
const char* guard_hit(uint64_t addr, unsigned* cpu) {
  auto in = [&](uint64_t guard) { return guard != 0 && addr >= guard && addr < guard + 4096; };
  for (unsigned i = 0; i < kMaxCpus; ++i) {
    if (in(g_cpus[i].stack_guard)) return *cpu = i, "kernel stack";
    if (in(g_cpus[i].ist_guard)) return *cpu = i, "IST stack";
  }
  return nullptr;
}

}  // namespace

PerCpu* this_cpu_or_null() {
  const uint64_t gs = rdmsr(kMsrGsBase);
  const auto first = reinterpret_cast<uint64_t>(&g_cpus[0]);
  if (gs < first || gs >= first + sizeof g_cpus || (gs - first) % sizeof(PerCpu) != 0) return nullptr;
  return reinterpret_cast<PerCpu*>(gs);
}

void install_cpu_tables(PerCpu& cpu) {
  cpu.self = &cpu;
  cpu.index = static_cast<uint32_t>(&cpu - g_cpus);
  uint64_t* gdt = cpu.gdt;
  gdt[0] = 0;
  gdt[1] = 0x00AF9A000000FFFF;  // 64-bit code, DPL 0
  gdt[2] = 0x00CF92000000FFFF;  // data
  const auto tss = reinterpret_cast<uint64_t>(&cpu.tss);
  const uint64_t limit = sizeof(Tss) - 1;
  gdt[3] = (limit & 0xFFFF) | ((tss & 0xFFFFFF) << 16) | (uint64_t{0x89} << 40) |
           (((limit >> 16) & 0xF) << 48) | (((tss >> 24) & 0xFF) << 56);
  gdt[4] = tss >> 32;
  cpu.tss.ist[0] = cpu.ist_top;
  cpu.tss.iomap_base = sizeof(Tss);

  TablePointer gdtr{sizeof cpu.gdt - 1, reinterpret_cast<uint64_t>(gdt)};
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
      "xorl %%eax, %%eax\n\t"
      "movw %%ax, %%fs\n\t"
      "movw %%ax, %%gs\n\t"  // loading GS clears its base: set it below
      "ltr %w3"
      :
      : "m"(gdtr), "i"(kKernelCode), "r"(uint64_t{kKernelData}), "r"(uint64_t{kTssSelector})
      : "rax", "memory");
  wrmsr(kMsrGsBase, reinterpret_cast<uint64_t>(&cpu));

  if (!g_idt_built) build_idt();
  TablePointer idtr{sizeof g_idt - 1, reinterpret_cast<uint64_t>(g_idt)};
  asm volatile("lidt %0" : : "m"(idtr) : "memory");
}

void set_irq_handler(uint8_t vector, IrqHandler handler) { g_irq_handlers[vector] = handler; }

ProbeFault last_probe_fault() {
  const PerCpu& c = this_cpu();
  return {c.probe_fault_address, c.probe_fault_error};
}
void set_fault_context(const char* what) { this_cpu().fault_context = what; }
const char* fault_context() {
  const PerCpu* c = this_cpu_or_null();
  return c != nullptr ? c->fault_context : nullptr;
}

void fatal_frame(const ExceptionFrame& f, const char* what) {
  const uint64_t cr2 = read_cr2();
  const PerCpu* cpu = this_cpu_or_null();
  char storage[768];
  TextBuffer t(storage, sizeof storage);
  const char* name = what != nullptr ? what : f.vector < 32 ? kVectorNames[f.vector] : "interrupt";
  t.nl().str("*** CPU exception ").dec(f.vector).str(" (").str(name).str(")")
      .str(" error=").hex(f.error_code).str(" rip=").hex(f.rip).str(" cr2=").hex(cr2);
  if (cpu != nullptr) {
    t.str(" on CPU ").dec(cpu->index).str(" (APIC id ").dec(cpu->apic_id).str(")").nl();
  } else {
    t.str(" on a CPU whose GS base is not set (").hex(rdmsr(kMsrGsBase)).str(")").nl();
  }
  unsigned guard_cpu = 0;
  if (f.vector == 14 || f.vector == 8) {
    if (const char* which = guard_hit(cr2, &guard_cpu)) {
      t.str("    cr2 is in the guard page of CPU ").dec(guard_cpu).str("'s ").str(which)
          .str(": stack overflow").nl();
    }
  }
  if (f.vector == 14) {
    t.str("    page fault: ").str((f.error_code & 1) ? "protection violation" : "page not present")
        .str((f.error_code & 2) ? ", write" : ", read")
        .str((f.error_code & 16) ? ", instruction fetch" : "").nl();
  }
  t.str("    ");
  print_register(t, "rax", f.rax);
  print_register(t, "rbx", f.rbx);
  print_register(t, "rcx", f.rcx);
  print_register(t, "rdx", f.rdx);
  t.nl().str("    ");
  print_register(t, "rsi", f.rsi);
  print_register(t, "rdi", f.rdi);
  print_register(t, "rbp", f.rbp);
  print_register(t, "rsp", f.rsp);
  t.nl().str("    ");
  print_register(t, "cs", f.cs);
  print_register(t, "rflags", f.rflags);
  print_register(t, "cr3", read_cr3());
  t.nl();
  if (cpu != nullptr && cpu->fault_context != nullptr)
    t.str("    while running: ").str(cpu->fault_context).nl();
  t.str("*** run ended by a CPU exception\n");
  serial_write_panic(t.c_str(), t.length());
  exit_qemu(ExitCode::Fatal);
}

}  // namespace pf::arch

using pf::arch::ExceptionFrame;

extern "C" void interrupt_dispatch(ExceptionFrame* f) {
  if (f->vector >= 32) {
    // Interrupts are enabled only after a CPU's GS base is set. A CPU that
    // was halted in idle_wait is idle no more: the locked exchange is the
    // full barrier smp_sync_cpus relied on when it skipped this CPU, ahead
    // of any handler (the timer's allocates).
    pf::arch::PerCpu& cpu = pf::arch::this_cpu();
    if (cpu.idle.load(std::memory_order_relaxed) != 0) cpu.idle.exchange(0, std::memory_order_seq_cst);
    if (pf::arch::IrqHandler h = pf::arch::g_irq_handlers[f->vector & 255]) {
      h(*f);
      return;
    }
    pf::arch::fatal_frame(*f, "unexpected interrupt: no handler for this vector");
  }
  if (f->vector == 14) {
    if (pf::arch::PerCpu* c = pf::arch::this_cpu_or_null(); c != nullptr && c->probe_armed != 0) {
      c->probe_armed = 0;
      c->probe_fault_address = pf::arch::read_cr2();
      c->probe_fault_error = f->error_code;
      f->rip = c->probe_recovery_rip;
      f->rsp = c->probe_saved_rsp;
      return;
    }
  }
  pf::arch::fatal_frame(*f, nullptr);
}
