// smp.cpp — the kernel on every CPU: CPUs from ACPI, interrupts on, the
// application processors started, work handed to them, the timer tick that
// allocates.
//
// Bring-up, in order (smp_discover before the allocator, smp_start after):
//   1. ACPI: the RSDP from the Multiboot2 tag, else the BIOS areas; the MADT's
//      enabled processors (without ACPI: the MP tables' processor entries).
//      cpu_count = min(found, kMaxCpus) goes to the allocator, so every CPU
//      that will run has its own caches.
//   2. The LAPIC page (IA32_APIC_BASE) mapped uncached at kMmioBase; the
//      8259s remapped and masked; the LAPIC timer calibrated once against
//      the PIT (without one, the TSC: timing.hpp); this CPU's timer
//      started; interrupts on.
//   3. A trampoline of 4 frames below 1 MiB *from the allocator*
//      (alloc_contig, max_addr 1 MiB, taken by smp_reserve_trampoline right
//      after PageAllocator::init, before anything else allocates; filled
//      here): the real-mode code and a PML4/PDPT/PD
//      that identity-map the first 2 MiB and share the kernel's upper half.
//      The kernel's map manages usable RAM from 64 KiB up (Kernel::map in
//      kernel.hpp) so such frames exist; no particular frame is assumed free.
//   4. Per AP, one at a time: stacks from the allocator mapped with guard
//      pages, trampoline parameters, INIT, 10 ms, SIPI, SIPI; wait (bounded)
//      until the AP says Online from C++. The trampoline goes back to the
//      allocator when the last AP is up.
//
// The tick (every CPU, every kTimerPeriodUs): counts, and while
// tick_allocations() is on, allocates and frees a page block and a kmalloc
// object — atomic context, interrupts masked, on whatever the CPU was doing,
// the allocator included (it masks interrupts only inside its own sections).
// It asks quietly first; only one tick at a time, machine-wide, may retry
// the way that drains every CPU's caches (tick_allocate says why).
//
// smp_sync_cpus: a generation counter; each answering CPU executes a full
// fence and publishes the generation it saw (PerCpu::sync_seen). A CPU
// halted in idle_wait (PerCpu::idle) is not asked (see smp_sync_cpus).
//
// Locks here: none is held while calling the allocator; the serial line's
// lock (console.cpp) is innermost everywhere.
//
// Work hand-off: a CPU's mailbox (PerCpu::work, work_arg, work_seq) is
// written by the boot CPU only while done_seq == work_seq (the owner idle);
// the owner runs the work and publishes done_seq. A wake IPI ends its hlt.
#include <atomic>

#include "kernel/arch/x86_64/apic.hpp"
#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/arch/x86_64/layout.hpp"
#include "kernel/arch/x86_64/timing.hpp"
#include "kernel/kernel.hpp"
#include "kernel/mm/text.hpp"

extern "C" {
extern const char ap_trampoline_start[], ap_trampoline_end[];
extern const char tramp_gdt[], tramp_gdt_pointer[], tramp_far32[], tramp_far64[], tramp_cr3[],
    tramp_efer[], tramp_stack[], tramp_percpu[], tramp_entry[], tramp_idt_pointer[], ap_pm32[],
    ap_lm64[];
[[noreturn]] void ap_entry(pf::arch::PerCpu* cpu);
}

namespace pf::kernel {

namespace {

constexpr uint32_t kTimerPeriodUs = 1000;
constexpr uint64_t kTrampolineFrames = 4;  // code, PML4, PDPT, PD
constexpr unsigned kStackOrder = 4;        // 64 KiB, as the boot CPU's
constexpr unsigned kIstOrder = 2;          // 16 KiB, as the boot CPU's fault stack
// Generous: under TCG on a loaded host a new vCPU thread may wait for a core.
constexpr uint64_t kApStartTimeoutUs = 10000000;

std::atomic<bool> g_tick_alloc{false};
std::atomic<uint64_t> g_sync_generation{0};
bool g_smp_started = false;
uint64_t g_boot_cr4 = 0;

// ---- the timer tick --------------------------------------------------------

// After a failed tick allocation, this many ticks allocate nothing: an
// allocator's last resort on failure (draining every CPU's caches, which
// costs IPIs once the fast paths are lock-free) must not run from every
// tick of every CPU while memory stays exhausted, or the ticks, each longer
// than a period, leave no time for anything else.
constexpr uint32_t kTickBackoff = 16;

// The same limit machine-wide. A per-CPU back-off alone still lets every
// CPU's tick drain: when memory runs out, every CPU's next tick fails and
// drains at once, each drain stops every CPU's gate in turn, and the
// drainers spin on each other's gate locks with interrupts masked (-smp 16
// under TCG: the boot CPU saw a few ticks a second, smp_ticks_out_of_memory
// took 25 s; at -smp 32 gdb found 31 CPUs draining at once, 30-60 s). So a
// tick asks quietly first (__GFP_NORETRY: its own cache and the zones), and
// only the one tick holding g_tick_drainer, machine-wide, retries the way
// that drains. kmalloc has no quiet form (a slab that must grow may drain),
// so a tick calls it only after its quiet page request succeeded (memory was
// there) or while it holds the token.
std::atomic<bool> g_tick_drainer{false};

// Allocates and frees on the interrupted CPU: a page block (order 0-2) and a
// kmalloc object, each written and read back. Out of memory is counted, not
// an error: the tick may land while a test has exhausted memory.
void tick_allocate(arch::PerCpu& c, uint64_t tick) {
  if (c.tick_backoff != 0) {
    --c.tick_backoff;
    return;
  }
  Kernel& k = kernel();
  bool token = false;
  auto take_token = [&token] {
    if (!token) token = !g_tick_drainer.exchange(true, std::memory_order_acquire);
    return token;
  };
  const unsigned order = static_cast<unsigned>(tick % 3);
  const uint64_t tag = (uint64_t{c.index} << 48) ^ tick ^ 0x7ac0000000000000ull;
  bool failed = false;
  PhysAddr p = k.pages.alloc_pages(Order{order}, GFP_ATOMIC | __GFP_NOWARN | __GFP_NORETRY);
  const bool quiet_ok = !p.is_null();
  if (!quiet_ok && take_token()) p = k.pages.alloc_pages(Order{order}, GFP_ATOMIC | __GFP_NOWARN);
  if (!p.is_null()) {
    auto* w = k.pages.to_virt<volatile uint64_t>(p);
    const uint64_t last = ((kPageSize << order) / 8) - 1;
    w[0] = tag;
    w[last] = ~tag;
    if (w[0] != tag || w[last] != ~tag) platform::fatal("timer tick: a page changed under the tick");
    k.pages.free_pages(p, Order{order});
  } else {
    failed = true;
  }
  c.timer_allocs.fetch_add(1, std::memory_order_relaxed);
  if (quiet_ok || take_token()) {
    const size_t size = size_t{16} << (tick % 8);  // 16 .. 2048 bytes
    auto* o = static_cast<volatile uint64_t*>(k.slab.kmalloc(size, GFP_ATOMIC | __GFP_NOWARN));
    if (o != nullptr) {
      o[0] = tag;
      o[size / 8 - 1] = ~tag;
      if (o[0] != tag || o[size / 8 - 1] != ~tag) platform::fatal("timer tick: an object changed under the tick");
      k.slab.kfree(const_cast<uint64_t*>(o));
    } else {
      failed = true;
    }
    c.timer_allocs.fetch_add(1, std::memory_order_relaxed);
  }
  if (token) g_tick_drainer.store(false, std::memory_order_release);
  if (failed) {
    c.timer_alloc_failures.fetch_add(1, std::memory_order_relaxed);
    c.tick_backoff = kTickBackoff;
  }
}

void on_timer(arch::ExceptionFrame&) {
  arch::PerCpu& c = arch::this_cpu();
  const uint64_t tick = c.timer_ticks.fetch_add(1, std::memory_order_relaxed) + 1;
  if (c.in_allocator.load(std::memory_order_relaxed) != 0)
    c.ticks_in_allocator.fetch_add(1, std::memory_order_relaxed);
  if (g_tick_alloc.load(std::memory_order_relaxed)) tick_allocate(c, tick);
  arch::lapic_eoi();
}

// ---- bring-up --------------------------------------------------------------

uint32_t boot_cpu_apic_id() { return arch::cpuid(1).ebx >> 24; }

template <typename T>
T& tramp_field(uint64_t base_virt, const char* symbol) {
  return *reinterpret_cast<T*>(base_virt + static_cast<uint64_t>(symbol - ap_trampoline_start));
}

// Stacks for CPU `i`: [guard][64 KiB kernel stack][guard][16 KiB IST] in its
// slot of the stack area; frames from the allocator.
const char* make_stacks(Kernel& k, arch::PerCpu& cpu) {
  const uint64_t slot = arch::kCpuStackBase + uint64_t{cpu.index} * arch::kCpuStackSlot;
  const uint64_t stack_bytes = kPageSize << kStackOrder, ist_bytes = kPageSize << kIstOrder;
  const PhysAddr stack = k.pages.alloc_pages(Order{kStackOrder}, __GFP_ZERO);
  const PhysAddr ist = k.pages.alloc_pages(Order{kIstOrder}, __GFP_ZERO);
  if (stack.is_null() || ist.is_null()) {
    // Out of memory by the allocator's rules only if no free block of the
    // refused order is left (alloc_pages drained every CPU's cache before
    // saying no); a refusal with one free is the allocator's fault.
    const unsigned refused = stack.is_null() ? kStackOrder : kIstOrder;
    const bool none_free = k.pages.largest_free_order() < static_cast<int>(refused);
    if (!stack.is_null()) k.pages.free_pages(stack, Order{kStackOrder});
    if (!ist.is_null()) k.pages.free_pages(ist, Order{kIstOrder});
    if (!none_free) return "the allocator refused an AP stack with a block of that order free";
    ++k.smp.not_started_no_memory;
    return "out of memory for the AP's stacks";
  }
  cpu.stack_guard = slot;
  const uint64_t stack_virt = slot + kPageSize;
  cpu.ist_guard = stack_virt + stack_bytes;
  const uint64_t ist_virt = cpu.ist_guard + kPageSize;
  if (const char* e = map_kernel_pages(k, stack_virt, stack.value, stack_bytes, false)) return e;
  if (const char* e = map_kernel_pages(k, ist_virt, ist.value, ist_bytes, false)) return e;
  cpu.stack_top = stack_virt + stack_bytes;
  cpu.ist_top = ist_virt + ist_bytes;
  return nullptr;
}

void release_trampoline(Kernel& k) {
  if (k.smp.trampoline == 0) return;
  k.pages.free_contig(PhysAddr{k.smp.trampoline}, kTrampolineFrames);
  k.smp.trampoline = 0;
}

// The trampoline block: code at +0, then PML4, PDPT, PD (see the top), in
// the frames smp_reserve_trampoline took (zeroed, untouched since).
bool make_trampoline(Kernel& k) {
  if (k.smp.trampoline == 0) return false;
  const PhysAddr t{k.smp.trampoline};
  const uint64_t v = reinterpret_cast<uint64_t>(k.pages.to_virt(t));
  const auto size = static_cast<size_t>(ap_trampoline_end - ap_trampoline_start);
  for (size_t i = 0; i < size; ++i) reinterpret_cast<char*>(v)[i] = ap_trampoline_start[i];
  auto* pml4 = reinterpret_cast<uint64_t*>(v + 1 * kPageSize);
  auto* pdpt = reinterpret_cast<uint64_t*>(v + 2 * kPageSize);
  auto* pd = reinterpret_cast<uint64_t*>(v + 3 * kPageSize);
  pml4[0] = (t.value + 2 * kPageSize) | arch::kPtePresent | arch::kPteWritable;
  pdpt[0] = (t.value + 3 * kPageSize) | arch::kPtePresent | arch::kPteWritable;
  pd[0] = 0 | arch::kPtePresent | arch::kPteWritable | arch::kPteLarge;  // [0, 2 MiB) identity
  const auto base = static_cast<uint32_t>(t.value);
  tramp_field<uint32_t>(v, tramp_gdt_pointer + 2) = base + static_cast<uint32_t>(tramp_gdt - ap_trampoline_start);
  tramp_field<uint32_t>(v, tramp_far32) = base + static_cast<uint32_t>(ap_pm32 - ap_trampoline_start);
  tramp_field<uint32_t>(v, tramp_far64) = base + static_cast<uint32_t>(ap_lm64 - ap_trampoline_start);
  tramp_field<uint32_t>(v, tramp_cr3) = base + static_cast<uint32_t>(kPageSize);
  const uint64_t efer = arch::rdmsr(arch::kMsrEfer);
  tramp_field<uint32_t>(v, tramp_efer) = (1u << 8) | static_cast<uint32_t>(efer & arch::kEferNxe);
  tramp_field<uint64_t>(v, tramp_entry) = reinterpret_cast<uint64_t>(&ap_entry);
  struct [[gnu::packed]] {
    uint16_t limit;
    uint64_t base;
  } idtr;
  asm volatile("sidt %0" : "=m"(idtr));
  tramp_field<uint16_t>(v, tramp_idt_pointer) = idtr.limit;
  tramp_field<uint64_t>(v, tramp_idt_pointer + 2) = idtr.base;
  return true;
}

// The upper half of the kernel's PML4, copied into the trampoline's: the
// stack area and image as they are now (the AP runs on these until it loads
// the kernel's CR3 itself).
void refresh_trampoline_tables(Kernel& k) {
  const auto* kernel_pml4 = k.pages.to_virt<const uint64_t>(PhysAddr{k.address_space_root});
  auto* pml4 = k.pages.to_virt<uint64_t>(PhysAddr{k.smp.trampoline + kPageSize});
  for (unsigned i = 256; i < 512; ++i) pml4[i] = kernel_pml4[i];
}

bool start_ap(Kernel& k, arch::PerCpu& cpu) {
  const uint64_t v = reinterpret_cast<uint64_t>(k.pages.to_virt(PhysAddr{k.smp.trampoline}));
  refresh_trampoline_tables(k);
  tramp_field<uint64_t>(v, tramp_stack) = cpu.stack_top;
  tramp_field<uint64_t>(v, tramp_percpu) = reinterpret_cast<uint64_t>(&cpu);
  cpu.state.store(arch::CpuState::Starting, std::memory_order_release);
  const auto page = static_cast<uint8_t>(k.smp.trampoline >> kPageShift);
  if (!arch::lapic_send_init(cpu.apic_id)) return false;
  arch::delay_us(10000);
  for (int sipi = 0; sipi < 2; ++sipi) {
    if (!arch::lapic_send_sipi(cpu.apic_id, page)) return false;
    arch::delay_us(200);
  }
  const uint64_t start = arch::rdtsc();
  while (cpu.state.load(std::memory_order_acquire) != arch::CpuState::Online) {
    if (arch::cycles_to_us(arch::rdtsc() - start) > kApStartTimeoutUs) return false;
    arch::pause();
  }
  return true;
}

void wake(const arch::PerCpu& cpu) { arch::lapic_send_fixed(cpu.apic_id, arch::kWakeVector); }

void on_sync(arch::ExceptionFrame&) {
  smp_service_sync();
  arch::lapic_eoi();
}

}  // namespace

// ---- public -------------------------------------------------------------------

void set_tick_allocations(bool on) { g_tick_alloc.store(on, std::memory_order_relaxed); }
bool tick_allocations() { return g_tick_alloc.load(std::memory_order_relaxed); }

// Marked idle with a locked exchange (a full barrier after everything this
// CPU did before), then halted; the first interrupt clears the mark
// (interrupt_dispatch) before its handler runs. An interrupt between the
// mark and the hlt clears it too: the CPU then halts unmarked, which only
// costs it the IPIs an idle CPU is spared.
void idle_wait() {
  arch::PerCpu& me = arch::this_cpu();
  me.idle.exchange(1, std::memory_order_seq_cst);
  asm volatile("sti; hlt" : : : "memory");
  if (me.idle.load(std::memory_order_relaxed) != 0) me.idle.exchange(0, std::memory_order_seq_cst);
}

void smp_service_sync() {
  if (!g_smp_started) return;
  arch::PerCpu& me = arch::this_cpu();
  const uint64_t gen = g_sync_generation.load(std::memory_order_acquire);
  if (me.sync_seen.load(std::memory_order_relaxed) >= gen) return;
  std::atomic_thread_fence(std::memory_order_seq_cst);  // mfence: the barrier asked for
  me.sync_seen.store(gen, std::memory_order_release);
}

// A CPU found idle (PerCpu::idle, read after the generation's locked
// increment) gets no IPI and is not waited for: it is halted outside the
// allocator, and it executes a full barrier (the locked exchange that clears
// the mark) before it runs anything else, so any fast path it enters later
// sees what the caller stored before calling (pfalloc.h: only CPUs that may
// be running a fast path must answer; Linux's membarrier skips idle CPUs
// too). A CPU that goes idle while the caller waits has executed that
// barrier after the call began, so it is answered as well. Why: every
// drain, shrink and verify syncs once per CPU or cache, each sync used to
// IPI every CPU, and waking every halted vCPU for each made a TCG boot's
// time grow with the cube of the CPU count (-smp 16: most of 106 s).
void smp_sync_cpus() {
  if (!g_smp_started || kernel().smp.online <= 1) return;
  const unsigned self = arch::this_cpu_index();
  const unsigned n = kernel().smp.cpu_count;
  const uint64_t gen = g_sync_generation.fetch_add(1, std::memory_order_seq_cst) + 1;
  bool waiting[kMaxCpus];
  for (unsigned i = 0; i < n; ++i) {
    arch::PerCpu& c = arch::g_cpus[i];
    waiting[i] = false;
    if (i == self || c.state.load() != arch::CpuState::Online) continue;
    if (c.idle.load(std::memory_order_seq_cst) != 0) {
      c.sync_skipped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    waiting[i] = true;
    arch::lapic_send_fixed(c.apic_id, arch::kSyncVector);
  }
  for (unsigned i = 0; i < n; ++i) {
    arch::PerCpu& c = arch::g_cpus[i];
    if (!waiting[i]) continue;
    while (c.sync_seen.load(std::memory_order_acquire) < gen) {
      if (c.idle.load(std::memory_order_seq_cst) != 0) {
        // It went idle while we waited (its barrier came after the call
        // began): answered, not waited for any longer; counted with the
        // CPUs found idle, since its sync_seen may stay behind until the
        // IPI wakes it (the smp_sync_cpus case reads both right after).
        c.sync_skipped.fetch_add(1, std::memory_order_relaxed);
        break;
      }
      smp_service_sync();  // another CPU may be waiting for us, masked as we may be
      arch::pause();
    }
  }
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

uint64_t smp_sync_generation() { return g_sync_generation.load(std::memory_order_acquire); }

void smp_discover(Kernel& k) {
  Smp& s = k.smp;
  s.boot_apic_id = boot_cpu_apic_id();
  const PhysMap boot_pm{arch::kDirectMapBase};
  const char* hint = k.boot.acpi_rsdp_tag == 15 ? "multiboot2 tag 15 (ACPI 2.0+)"
                                                : "multiboot2 tag 14 (ACPI 1.0)";
  const bool madt = arch::acpi_find_cpus(k.boot.acpi_rsdp, hint, boot_pm, arch::kBootDirectMapLimit, s.acpi);
  const char* const acpi_error = s.acpi.error;
  if (madt) {
    s.source = "ACPI MADT";
    s.found = static_cast<unsigned>(s.acpi.cpu_count);
  } else if (arch::mps_find_cpus(boot_pm, arch::kBootDirectMapLimit, s.acpi)) {
    // No ACPI (QEMU's -machine pc,acpi=off; firmware older than ACPI 2.0's
    // MADT): the MP tables the BIOS still builds list the same CPUs.
    s.source = "Intel MP table";
    s.found = static_cast<unsigned>(s.acpi.cpu_count);
  } else {
    s.source = acpi_error;
    s.found = 1;
  }
  s.cpu_count = s.found > kMaxCpus ? kMaxCpus : s.found;
  if (s.cpu_count == 0) s.cpu_count = 1;
  // Index 0 is this CPU; the others follow in table order.
  arch::PerCpu* bsp = &arch::g_cpus[0];
  bsp->apic_id = s.boot_apic_id;
  unsigned next = 1;
  bool boot_listed = false;
  for (size_t i = 0; i < s.acpi.cpu_count; ++i) {
    const uint32_t id = s.acpi.cpus[i].apic_id;
    if (id == s.boot_apic_id) {
      boot_listed = true;
      continue;
    }
    if (id >= 255) {  // xAPIC IPIs carry an 8-bit destination (255: broadcast)
      ++s.unreachable;
      continue;
    }
    if (next < s.cpu_count) arch::g_cpus[next++].apic_id = id;
  }
  if (s.acpi.cpu_count > 0 && !boot_listed) {
    // A list that does not name the CPU we run on cannot be trusted for the others.
    s.source = s.acpi.mp_floating != 0 ? "the MP table does not list the boot CPU: boot CPU only"
                                       : "the MADT does not list the boot CPU: boot CPU only";
    s.cpu_count = s.found = 1;
    next = 1;
  }
  s.cpu_count = next;
  LogLine line;
  line->str("cpus: ").dec(s.found).str(" found (").str(s.source).str(")");
  if (s.acpi.mp_floating != 0) {
    line->str(", MP floating pointer at ").hex(s.acpi.mp_floating).str(" from ").str(s.acpi.mp_source)
        .str("; ACPI: ").str(acpi_error);
  } else if (s.acpi.rsdp != 0) {
    line->str(", RSDP at ").hex(s.acpi.rsdp).str(" from ").str(s.acpi.rsdp_source).str(", ACPI rev ")
        .dec(s.acpi.revision);
  }
  if (s.acpi.online_capable != 0) line->str(", ").dec(s.acpi.online_capable).str(" online-capable not started");
  if (s.acpi.disabled != 0) line->str(", ").dec(s.acpi.disabled).str(" disabled");
  line->nl();
  line.flush();
  if (s.unreachable != 0) {
    LogLine().text().str("cpus: ").dec(s.unreachable)
        .str(" CPUs have x2APIC ids above 254, which xAPIC IPIs cannot reach: not started").nl();
  }
  if (s.found > kMaxCpus) {
    LogLine().text().str("cpus: the machine has ").dec(s.found).str(" CPUs; the allocator serves at most ")
        .dec(kMaxCpus).str(" (kMaxCpus): starting ").dec(kMaxCpus).str(", the rest stay halted").nl();
  }
}

// Why this early: the buddy hands out its lowest frames first, and on a
// machine with nothing but the DMA zone (under 16 MiB) the page tables, the
// slab layer's caches and arrays and the rest took every frame below 1 MiB
// before smp_start asked (-m 16M -smp 8: 13.8 MiB free, no AP started).
// Linux reserves its real-mode trampoline early for the same reason.
void smp_reserve_trampoline(Kernel& k) {
  if (k.smp.cpu_count <= 1 || k.smp.trampoline != 0) return;
  const PhysAddr t = k.pages.alloc_contig(
      kTrampolineFrames, ContigRequest{.align = kPageSize, .max_addr = 1 * MiB, .flags = __GFP_ZERO});
  if (!t.is_null()) k.smp.trampoline = k.smp.trampoline_used = t.value;
}

bool smp_start(Kernel& k) {
  Smp& s = k.smp;
  // The 8259s first, APIC or not: the BIOS leaves the master PIC's lines at
  // vectors 8-15, so an unmasked PIT tick would be taken for a #DF.
  arch::pic_remap_and_mask();
  if (!arch::cpu_has_apic()) {
    release_trampoline(k);
    s.error = "this CPU has no local APIC: interrupts stay off, one CPU";
    return false;
  }
  s.lapic_phys = arch::lapic_phys_base();
  s.lapic_virt = arch::kMmioBase;
  if (const char* e = map_kernel_pages(k, s.lapic_virt, s.lapic_phys, kPageSize, true)) {
    release_trampoline(k);
    s.error = e;
    return false;
  }
  arch::lapic_set_base(s.lapic_virt);
  arch::set_irq_handler(arch::kTimerVector, &on_timer);
  arch::set_irq_handler(arch::kSyncVector, &on_sync);
  arch::lapic_init_this_cpu(true);
  s.boot_apic_id = arch::lapic_id();
  arch::g_cpus[0].apic_id = s.boot_apic_id;
  s.timer_counts_per_ms = arch::lapic_calibrate_timer();
  s.timer_period_us = kTimerPeriodUs;
  g_smp_started = true;
  g_boot_cr4 = arch::read_cr4();
  arch::g_cpus[0].state.store(arch::CpuState::Online, std::memory_order_release);
  arch::lapic_timer_start(s.timer_period_us);
  asm volatile("sti" : : : "memory");

  if (s.cpu_count <= 1) return true;
  if (!make_trampoline(k)) {
    // (alloc_contig's own tests cover its search; here it found no 4
    // free frames in a row below 1 MiB, where bootmem put the per-CPU
    // caches of a machine this small.)
    s.error = "no 4 free frames below 1 MiB for the AP trampoline: APs not started";
    s.not_started_no_memory = s.cpu_count - 1;
    return true;
  }
  // Said before the first SIPI: an AP that triple-faults before its
  // trampoline loads the IDT resets the whole machine, and this line then
  // tells what was going on.
  LogLine().text().str("cpus: starting ").dec(s.cpu_count - 1).str(" APs through the trampoline at ")
      .hex(s.trampoline).nl();
  const uint64_t start = arch::rdtsc();
  for (unsigned i = 1; i < s.cpu_count; ++i) {
    arch::PerCpu& cpu = arch::g_cpus[i];
    cpu.index = i;
    cpu.self = &cpu;
    if (const char* e = make_stacks(k, cpu)) {
      s.error = e;
      cpu.state.store(arch::CpuState::Failed);
      continue;
    }
    if (!start_ap(k, cpu)) {
      cpu.state.store(arch::CpuState::Failed);
      s.error = "an AP did not come online within 10 s of INIT-SIPI-SIPI";
      LogLine().text().str("*** cpu ").dec(i).str(" (APIC id ").dec(cpu.apic_id)
          .str(") did not come online").nl();
      continue;
    }
    ++s.online;
  }
  s.bringup_us = arch::cycles_to_us(arch::rdtsc() - start);
  release_trampoline(k);
  return true;
}

void run_on_cpu(unsigned index, arch::CpuWork fn, void* arg) {
  arch::PerCpu& cpu = arch::g_cpus[index];
  wait_cpu(index);  // the mailbox is ours only while the owner is idle
  cpu.work = fn;
  cpu.work_arg = arg;
  cpu.work_seq.fetch_add(1, std::memory_order_release);
  wake(cpu);
}

void wait_cpu(unsigned index) {
  const arch::PerCpu& cpu = arch::g_cpus[index];
  while (cpu.done_seq.load(std::memory_order_acquire) != cpu.work_seq.load(std::memory_order_relaxed))
    idle_wait();
}

void run_on_all(arch::CpuWork fn, void* arg) {
  const unsigned me = arch::this_cpu_index();
  for (unsigned i = 0; i < kernel().smp.cpu_count; ++i)
    if (i != me && arch::g_cpus[i].state.load() == arch::CpuState::Online) run_on_cpu(i, fn, arg);
  fn(arch::this_cpu(), arg);
  for (unsigned i = 0; i < kernel().smp.cpu_count; ++i)
    if (i != me && arch::g_cpus[i].state.load() == arch::CpuState::Online) wait_cpu(i);
}

namespace {
// `run` mode's demonstration: every CPU allocates and frees pages and
// objects for a while (filling its own caches) while every tick allocates.
//
// Out of memory ends the demonstration on every CPU (the caches are then as
// full as they get). Why: a failed kmalloc drains every CPU's caches (kmalloc
// has no quiet form, see tick_allocate), and on a tiny machine with many
// CPUs (-smp 16 -m 4M) every CPU failed every request of every round and
// drained at once, each drain stopping every CPU's gate in turn: the 100 ms
// demonstration took minutes under TCG (gdb: all 16 CPUs in cache_shrink ->
// drain_cpu_arrays, spinning on each other's gates). So pages are asked for
// quietly (__GFP_NORETRY: no drain), kmalloc only right after such a request
// succeeded (memory was there), and the first failure anywhere stops every
// CPU: at most the CPUs already inside a kmalloc at that moment drain.
std::atomic<bool> g_warm_oom{false};
std::atomic<uint64_t> g_warm_oom_at{0};  // TSC of the first failure
std::atomic<unsigned> g_warm_oom_cpu{0};

void warm_caches(arch::PerCpu& me, void*) {
  Kernel& k = kernel();
  constexpr unsigned kBlocks = 96;
  PhysAddr pages[kBlocks];
  void* objects[kBlocks];
  const uint64_t until = arch::rdtsc() + arch::tsc_hz() / 10;  // 100 ms
  while (arch::rdtsc() < until && !g_warm_oom.load(std::memory_order_relaxed)) {
    me.in_allocator.fetch_add(1, std::memory_order_relaxed);
    bool failed = false;
    for (unsigned i = 0; i < kBlocks; ++i) {
      pages[i] = PhysAddr{};
      objects[i] = nullptr;
      if (failed || g_warm_oom.load(std::memory_order_relaxed)) continue;
      pages[i] = k.pages.alloc_pages(Order{i % 2}, __GFP_NOWARN | __GFP_NORETRY);
      if (!pages[i].is_null()) objects[i] = k.slab.kmalloc(size_t{32} << (i % 5), __GFP_NOWARN);
      failed = pages[i].is_null() || objects[i] == nullptr;
    }
    for (unsigned i = 0; i < kBlocks; ++i) {
      if (!pages[i].is_null()) k.pages.free_pages(pages[i], Order{i % 2});
      k.slab.kfree(objects[i]);
    }
    me.in_allocator.fetch_sub(1, std::memory_order_relaxed);
    if (failed && !g_warm_oom.exchange(true, std::memory_order_relaxed)) {
      g_warm_oom_at.store(arch::rdtsc(), std::memory_order_relaxed);
      g_warm_oom_cpu.store(me.index, std::memory_order_relaxed);
    }
  }
}
}  // namespace

void smp_run_demo(Kernel&) {
  g_warm_oom.store(false, std::memory_order_relaxed);
  set_tick_allocations(true);
  const uint64_t start = arch::rdtsc();
  run_on_all(&warm_caches, nullptr);
  set_tick_allocations(false);
  if (g_warm_oom.load(std::memory_order_relaxed)) {
    LogLine().text().str("cpus: the allocation demo ran out of memory on CPU ")
        .dec(g_warm_oom_cpu.load(std::memory_order_relaxed)).str(" after ")
        .dec(arch::cycles_to_us(g_warm_oom_at.load(std::memory_order_relaxed) - start) / 1000)
        .str(" ms; every CPU stopped there").nl();
  }
}

void format_cpus(const Kernel& k, TextBuffer& t) {
  const Smp& s = k.smp;
  t.str("cpus: ").dec(s.online).str(" online").nl();
  t.str("  found ").dec(s.found).str(" (").str(s.source).str("), allocator sized for ").dec(s.cpu_count)
      .str("; LAPIC at ").hex(s.lapic_phys).str(" (uncached at ").hex(s.lapic_virt).str("); timer every ")
      .dec(s.timer_period_us).str(" us (").dec(s.timer_counts_per_ms).str(" counts/ms at divide 16)").nl();
  if (s.trampoline_used != 0)
    t.str("  AP trampoline: ").dec(kTrampolineFrames).str(" frames at ").hex(s.trampoline_used)
        .str(" from alloc_contig(max_addr 1 MiB), ").str(s.trampoline == 0 ? "returned" : "still held")
        .str("; APs up in ").dec(s.bringup_us / 1000).str(" ms").nl();
  if (const unsigned x2 = arch::lapic_x2apic_found())
    t.str("  x2APIC mode left on by the firmware on ").dec(x2).str(" CPUs: switched to xAPIC").nl();
  if (s.error != nullptr) t.str("  *** ").str(s.error).nl();
  t.str("  cpu apic state    ticks  tick-allocs  tick-oom  ticks-in-alloc  wake-ipis  pcp-frames  slab-cached").nl();
  for (unsigned i = 0; i < s.cpu_count; ++i) {
    const arch::PerCpu& c = arch::g_cpus[i];
    const arch::CpuState st = c.state.load();
    t.str("  ").dec_w(i, 3).ch(' ').dec_w(c.apic_id, 4).ch(' ')
        .str_w(st == arch::CpuState::Online ? "online" : st == arch::CpuState::Failed ? "FAILED" : "absent", -7)
        .dec_w(c.timer_ticks.load(), 7).ch(' ').dec_w(c.timer_allocs.load(), 12).ch(' ')
        .dec_w(c.timer_alloc_failures.load(), 9).ch(' ').dec_w(c.ticks_in_allocator.load(), 15).ch(' ')
        .dec_w(c.wake_ipis.load(), 10).ch(' ').dec_w(k.pages.cpu_cached_frames(i), 11).ch(' ')
        .dec_w(k.slab.cpu_cached_objects(i), 12).nl();
  }
}


// The AP's first C++: the kernel's tables (the trampoline's are about to go
// away), its GDT/TSS and GS base, the boot CPU's control bits, its LAPIC and
// timer; then Online, and the idle loop that runs posted work.
extern "C" [[noreturn]] void ap_entry(arch::PerCpu* cpu) {
  Kernel& k = kernel();
  arch::write_cr3(k.address_space_root);
  arch::install_cpu_tables(*cpu);
  arch::write_cr4(g_boot_cr4);
  arch::write_cr0(arch::read_cr0() | arch::kCr0Wp);
  arch::lapic_init_this_cpu(false);
  cpu->apic_id = arch::lapic_id();
  arch::lapic_timer_start(k.smp.timer_period_us);
  cpu->state.store(arch::CpuState::Online, std::memory_order_release);
  for (;;) {
    arch::cli();
    const uint64_t seq = cpu->work_seq.load(std::memory_order_acquire);
    if (seq == cpu->done_seq.load(std::memory_order_relaxed)) {
      idle_wait();  // sti; hlt: the wake IPI or a tick ends it
      continue;
    }
    asm volatile("sti" : : : "memory");
    cpu->work(*cpu, cpu->work_arg);
    cpu->done_seq.store(seq, std::memory_order_release);
    // The boot CPU may be waiting in hlt: a tick wakes it within a period.
  }
}

}  // namespace pf::kernel
