// main.cpp — kernel entry: serial and fault handlers, boot info and memory
// map intake, the page allocator, the kernel's own page tables, the slab
// layer; then the mode the command line asks for (`run` or `test`).
//
// Order matters and is the point of this file:
//   1. exception handlers before anything can fault;
//   2. integrity baselines (image, modules) before the allocator exists, so
//      the tests can prove the allocator never handed that memory out;
//   3. the allocator is initialised on the boot tables, which map the first
//      4 GiB only (arch::kBootDirectMapLimit), with what they reach: the
//      memory map cut at 4 GiB (k.init_map). Its descriptors, per-CPU caches
//      and the first page-table frames all lie below 4 GiB;
//   4. the kernel's own tables map all RAM, 4 GiB and up included; the boot
//      tables are released only after CR3 points elsewhere;
//   5. RAM above 4 GiB is then hot-added, one PageAllocator::add_memory per
//      map entry, lowest first: each added range keeps its own metadata
//      (descriptors, lookup, the Normal zone's per-CPU slots) in its first
//      frames, written through the tables of step 4;
//   6. the CPUs are counted (ACPI) before the allocator, which sizes its
//      per-CPU caches for them, and started after the slab layer, with
//      frames the allocator hands out (smp.cpp).
//
// Why every range above 4 GiB goes through add_memory, not only when init
// cannot place its descriptors below 4 GiB (the way Linux's
// memmap_on_memory keeps a hot-added block's memmap inside the block):
//   * init on the boot tables can only put metadata where they reach, so
//     the metadata of high RAM would cost low RAM: 16 bytes per frame
//     (64 GiB of RAM, 256 MiB of DMA32 memory), and a machine with little
//     RAM below 4 GiB (firmware holes, max-ram-below-4g) did not boot at
//     all (PF_ERR_NO_ROOM_FOR_DESCRIPTORS). Metadata inside its own range
//     needs no low memory whatever the size, and DMA32 stays for devices;
//   * one boot sequence for every machine: a fallback taken only when init
//     fails would run on few machines, and its bugs would hide there, and
//     whether the first attempt fits would decide where metadata lives;
//   * nothing is lost: zones cut ranges at 4 GiB anyway (no block spans the
//     limit); the Normal zone opens with the first add, before the other
//     CPUs run and before the slab layer starts (only the page tables
//     allocate earlier, and they need DMA32 frames).
// The costs: one hot-add slot per high map entry (QEMU has one; 128 slots);
// a high Usable entry too small for its own metadata (descriptors, lookup,
// the Normal zone's slots for the first) stays unmanaged; so does
// bootloader- or ACPI-reclaimable memory above 4 GiB, which add_memory cannot
// take while it is in use (none on the loaders tested). Both are said on
// serial and counted in k.high (add_high_memory, address_space.cpp).
#include <cstdint>

#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/arch/x86_64/layout.hpp"
#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/arch/x86_64/timing.hpp"
#include "kernel/kernel.hpp"
#include "kernel/mm/text.hpp"
#include "kernel/reclaim.hpp"
#include "kernel/rt/runtime.hpp"

namespace pf::kernel {

namespace {
Kernel g_kernel;

[[noreturn]] void boot_failure(const char* what, const char* detail) {
  LogLine line;
  line->str("*** boot failed: ").str(what);
  if (detail != nullptr) line->str(": ").str(detail);
  line->nl();
  line.flush();
  arch::exit_qemu(arch::ExitCode::Fatal);
}

void take_module_baselines(Kernel& k, const PhysMap& pm) {
  for (size_t i = 0; i < k.boot.module_count && i < Kernel::kMaxModules; ++i) {
    const boot::BootModule& m = k.boot.modules[i];
    ModuleCheck& c = k.modules[k.module_count++];
    c.start = m.start;
    c.end = m.end;
    if (m.end > arch::kBootDirectMapLimit) continue;  // not reachable yet: no baseline
    c.crc_at_boot = posix_cksum(pm.to_virt(PhysAddr{m.start}), m.end - m.start);
    const char* cmd = m.cmdline ? m.cmdline : "";
    uint64_t crc = 0;
    if (find_number(cmd, "crc=", crc) && find_number(cmd, "len=", c.expected_len)) {
      c.expected_crc = static_cast<uint32_t>(crc);
      c.has_expectation = true;
    }
  }
}

// Recurses until the kernel stack runs into its guard page (the limit is
// far beyond the stack's size; it only keeps the recursion finite).
[[gnu::noinline]] uint64_t exhaust_stack(uint64_t depth, uint64_t limit) {
  volatile uint64_t frame[64];
  frame[depth % 64] = depth;
  if (depth == limit) return frame[0];
  return exhaust_stack(depth + 1, limit) + frame[(depth + 1) % 64];
}

// The demonstrations above, on an application processor: the fault must be
// reported with that CPU's number and end the run (ExitCode::Fatal) while
// the boot CPU waits.
void ap_write_text(arch::PerCpu&, void*) { *reinterpret_cast<volatile char*>(__text_start) = 0; }
void ap_overflow_stack(arch::PerCpu&, void*) { exhaust_stack(0, uint64_t{1} << 40); }

void ap_demo(Kernel& k, const char* name, arch::CpuWork fn) {
  const unsigned cpu = k.smp.online - 1;
  if (cpu == 0) boot_failure(name, "needs a second CPU (-smp 2 or more)");
  LogLine().text().str(name).str(": on CPU ").dec(cpu).nl();
  run_on_cpu(cpu, fn, nullptr);
  wait_cpu(cpu);
  boot_failure(name, "the AP came back without a fault");
}

}  // namespace

Kernel& kernel() { return g_kernel; }

bool has_word(const char* text, const char* word) {
  const size_t n = string_length(word);
  for (const char* p = text; *p != '\0'; ++p) {
    if (p != text && p[-1] != ' ') continue;
    size_t i = 0;
    while (i < n && p[i] == word[i]) ++i;
    if (i == n && (p[n] == ' ' || p[n] == '\0')) return true;
  }
  return false;
}

bool find_number(const char* text, const char* key, uint64_t& value) {
  const size_t n = string_length(key);
  for (const char* p = text; *p != '\0'; ++p) {
    if (p != text && p[-1] != ' ') continue;
    size_t i = 0;
    while (i < n && p[i] == key[i]) ++i;
    if (i != n) continue;
    const char* d = p + n;
    if (*d < '0' || *d > '9') return false;
    uint64_t v = 0;
    while (*d >= '0' && *d <= '9') v = v * 10 + static_cast<uint64_t>(*d++ - '0');
    value = v;
    return true;
  }
  return false;
}

uint64_t fnv1a_words(const void* data, size_t bytes) {
  const auto* w = static_cast<const uint64_t*>(data);
  uint64_t h = 0xcbf29ce484222325;
  for (size_t i = 0; i < bytes / 8; ++i) {
    h ^= w[i];
    h *= 0x100000001b3;
  }
  return h;
}

uint32_t posix_cksum(const void* data, size_t bytes) {
  static uint32_t table[256];
  static bool table_ready = false;
  if (!table_ready) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i << 24;
      for (int b = 0; b < 8; ++b) c = (c & 0x80000000u) ? (c << 1) ^ 0x04C11DB7u : (c << 1);
      table[i] = c;
    }
    table_ready = true;
  }
  uint32_t crc = 0;
  const auto* p = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < bytes; ++i) crc = (crc << 8) ^ table[((crc >> 24) ^ p[i]) & 0xff];
  for (uint64_t n = bytes; n != 0; n >>= 8) crc = (crc << 8) ^ table[((crc >> 24) ^ n) & 0xff];
  return ~crc;
}

}  // namespace pf::kernel

using namespace pf;
using namespace pf::kernel;

extern "C" [[noreturn]] void kernel_main(uint32_t magic, uint32_t info_phys, uint64_t tsc_entry) {
  const uint64_t tsc_main = arch::rdtsc();
  arch::serial_init();
  // This CPU's tables and GS base first: the allocator's cpu_id hook and
  // the fault reports read the per-CPU area.
  arch::PerCpu& boot_cpu = arch::g_cpus[0];
  boot_cpu.stack_top = arch::sym(boot_stack_top);
  boot_cpu.stack_guard = arch::sym(kernel_stack_guard);
  boot_cpu.ist_top = arch::sym(fault_stack_top);
  boot_cpu.ist_guard = arch::sym(fault_stack_guard);
  arch::install_cpu_tables(boot_cpu);
  const size_t constructors = rt::run_global_constructors();

  Kernel& k = pf::kernel::kernel();
  k.tsc_entry = tsc_entry;
  k.tsc_main = tsc_main;
  k.constructors_run = constructors;
  k.image_checksum = fnv1a_words(__text_start, arch::sym(__rodata_end) - arch::sym(__text_start));

  // Boot information, read through the boot tables' direct map.
  const PhysMap boot_pm{arch::kDirectMapBase};
  const char* error = nullptr;
  bool parsed = false;
  if (magic == boot::kMultiboot1Magic) {
    parsed = boot::parse_multiboot1(info_phys, boot_pm, k.boot, k.map, &error);
  } else if (magic == boot::kMultiboot2Magic) {
    parsed = boot::parse_multiboot2(info_phys, boot_pm, k.boot, k.map, &error);
  } else {
    LogLine().text().str("*** boot magic ").hex(magic).str(" is neither Multiboot1 nor Multiboot2").nl();
    boot_failure("unknown boot protocol", nullptr);
  }
  if (!parsed) boot_failure("boot information", error);

  const char* cmdline = k.boot.cmdline ? k.boot.cmdline : "";
  k.options.test = has_word(cmdline, "test");
  k.options.run = !k.options.test;  // `run`, and the default
  k.options.fail_demo = has_word(cmdline, "fail-demo");
  k.options.expect_module = has_word(cmdline, "expect-module");
  k.options.slab_debug = has_word(cmdline, "slab-debug");
  {
    LogLine line;
    line->str("pfalloc kernel: x86-64, booted by ").str(k.boot.loader_name).str(" (")
        .str(k.boot.protocol).str("), command line '").str(cmdline).str("'").nl();
  }

  // The kernel image: the boot part goes back to the allocator once the
  // kernel's own tables are live; the rest stays reserved.
  const uint64_t boot_start = arch::sym(__boot_start), boot_end = arch::sym(__boot_end);
  const uint64_t image_start = arch::kernel_virt_to_phys(arch::sym(__text_start));
  const uint64_t image_end = arch::sym(__image_phys_end);
  k.boot_region = {boot_start, boot_end};
  // On a machine with barely 2 MiB the loader puts the image (1 MiB up)
  // over the firmware's reserved top of RAM, where SeaBIOS keeps the ACPI
  // tables: say so, since what reads them next only sees bad checksums.
  for (const Region& r : k.map.raw()) {
    const uint64_t lo = arch::sym(__image_phys_start);
    if (r.type == RegionType::Usable || r.base >= image_end || r.base + r.length <= lo) continue;
    LogLine().text().str("*** the kernel image [").hex(lo).str(", ").hex(image_end)
        .str(") was loaded over ").str(region_type_name(r.type)).str(" memory [").hex(r.base).str(", ")
        .hex(r.base + r.length).str("): too little RAM above 1 MiB; firmware data there is lost").nl();
  }
  k.map.reserve(boot_start, boot_end - boot_start, RegionType::BootloaderReclaimable);
  k.map.reserve(image_start, image_end - image_start, RegionType::Kernel);
  if (!k.map.normalise()) boot_failure("memory map", "more entries than the map holds");
  take_module_baselines(k, boot_pm);
  smp_discover(k);  // reads ACPI through the boot tables' direct map

  k.tsc_init = arch::rdtsc();
  if (const char* why = map_within_boot_reach(k.map, arch::kBootDirectMapLimit, k.init_map))
    boot_failure("memory map below 4 GiB", why);
  // A machine too small for every CPU's caches (-m 2M -smp 16: the
  // metadata did not fit) runs the allocator, and starts, as many CPUs as
  // it has room for; the rest are named (Smp::cpus_without_caches) and
  // their cases skipped. A failed init leaves nothing behind to undo.
  int status = PF_ERR_NO_ROOM_FOR_DESCRIPTORS;
  for (unsigned cpus = k.smp.cpu_count; cpus >= 1; --cpus) {
    status = k.pages.init(k.init_map, PageAllocatorConfig{.direct_map_offset = arch::kDirectMapBase,
                                                          .cpu_count = cpus,
                                                          .bootmem_limit = arch::kBootDirectMapLimit});
    if (status != PF_ERR_NO_ROOM_FOR_DESCRIPTORS || cpus == 1) break;
    k.smp.cpus_without_caches = k.smp.cpu_count - (cpus - 1);
  }
  if (status == PF_OK && k.smp.cpus_without_caches != 0) {
    k.smp.cpu_count -= k.smp.cpus_without_caches;
    LogLine().text().str("*** the allocator's per-CPU caches fit for ").dec(k.smp.cpu_count).str(" of ")
        .dec(k.smp.cpu_count + k.smp.cpus_without_caches).str(" CPUs: the other ")
        .dec(k.smp.cpus_without_caches).str(" stay halted").nl();
  }
  if (status != PF_OK) {
    LogLine().text().str("*** PageAllocator::init returned ").sdec(status).nl();
    boot_failure("page allocator", nullptr);
  }
  k.tsc_pages_ready = arch::rdtsc();
  smp_reserve_trampoline(k);  // before the lowest frames are handed out (smp.cpp says why)

  if (const char* why = build_address_space(k)) boot_failure("page tables", why);
  k.tsc_tables_live = arch::rdtsc();
  if (const char* why = add_high_memory(k)) boot_failure("memory above 4 GiB", why);
  k.tsc_high_added = arch::rdtsc();

  const int slab_status = k.slab.init(k.pages, SlabConfig{.cpu_count = 0, .debug = k.options.slab_debug});
  if (slab_status != PF_OK) {
    LogLine().text().str("*** SlabAllocator::init returned ").sdec(slab_status).nl();
    boot_failure("slab allocator", nullptr);
  }
  k.tsc_slab_ready = arch::rdtsc();

  // Memory handed back (issue 10). The boot information has been parsed and
  // what the kernel keeps was copied into k.boot, so the loader's memory goes
  // back now (the boot tables went back in build_address_space).
  hand_back(k, RegionType::BootloaderReclaimable);
  // ACPI-reclaimable memory: nothing reads the ACPI tables after this point.
  // Whatever reads them (the MADT for SMP bring-up) must run before this call.
  hand_back(k, RegionType::AcpiReclaimable);

  arch::calibrate_tsc();
  if (!smp_start(k)) LogLine().text().str("*** ").str(k.smp.error).nl();
  // Demonstrations that a misuse and a CPU fault end the run loudly (the
  // test boots expect ExitCode::Fatal and the named error in the log).
  if (has_word(cmdline, "fatal-demo")) {
    LogLine().text().str("fatal-demo: freeing one page twice, default (fatal) error handler").nl();
    const PhysAddr p = k.pages.alloc_pages(Order{0}, 0);
    k.pages.free_pages(p, Order{0});
    k.pages.free_pages(p, Order{0});
    boot_failure("fatal-demo", "the error handler returned");
  }
  if (has_word(cmdline, "fault-demo")) {
    LogLine().text().str("fault-demo: writing to the kernel's text").nl();
    *reinterpret_cast<volatile char*>(__text_start) = 0;
    boot_failure("fault-demo", "the write to text did not fault");
  }
  if (has_word(cmdline, "stack-overflow-demo")) {
    LogLine().text().str("stack-overflow-demo: recursing into the stack guard page").nl();
    const uint64_t depth = exhaust_stack(0, uint64_t{1} << 40);
    LogLine().text().str("stack-overflow-demo: returned ").dec(depth).nl();
    boot_failure("stack-overflow-demo", "the guard page did not fault");
  }
  if (has_word(cmdline, "ap-fault-demo")) ap_demo(k, "ap-fault-demo: writing to the kernel's text", &ap_write_text);
  if (has_word(cmdline, "ap-stack-overflow-demo"))
    ap_demo(k, "ap-stack-overflow-demo: recursing into the stack guard page", &ap_overflow_stack);
  if (k.options.test) run_selftest(k);
  smp_run_demo(k);
  run_report(k);
}
