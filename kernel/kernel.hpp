// kernel.hpp — the booted kernel's state, shared by main.cpp (boot sequence),
// report.cpp (`run` mode) and selftest.cpp (`test` mode).
//
// Owns the one MemoryMap of the kernel and what the boot sequence measured on
// the way. Its PageAllocator and SlabAllocator are the global instances behind
// the C API (kernel/mm/global.hpp): the kernel drives them through the C++
// classes, and C code in it can call alloc_pages()/kmalloc() all the same.
// Written by the boot CPU during boot; once the APs run (smp.cpp), what they
// share with it is the allocator (locked inside) and their PerCpu mailboxes.
//
// Invariants once boot_memory() has returned:
//   map.normalised(); pages.initialised(); slab.initialised();
//   CR3 == address_space_root (the kernel's own tables), the boot tables and
//   the 32-bit entry code ([__boot_start, __boot_end)) were released;
//   every physical range in direct_map[] is mapped at kDirectMapBase + phys.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/arch/x86_64/acpi.hpp"
#include "kernel/arch/x86_64/paging.hpp"
#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/boot/multiboot.hpp"
#include "kernel/mm/global.hpp"
#include "kernel/mm/memmap.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"

namespace pf::kernel {

struct PhysRange {
  uint64_t base = 0, end = 0;  // [base, end), page aligned
};

// A module with what its command line promised (crc=, len=) and what was
// measured at boot (before the allocator existed).
struct ModuleCheck {
  uint64_t start = 0, end = 0;
  uint32_t crc_at_boot = 0;
  uint32_t expected_crc = 0;
  uint64_t expected_len = 0;
  bool has_expectation = false;
};

struct Options {
  bool run = false;            // `run`: the report
  bool test = false;           // `test`: the in-kernel tests
  bool fail_demo = false;      // `fail-demo`: add a deliberately failing case
  bool expect_module = false;  // `expect-module`: a module must be present and intact
  bool slab_debug = false;     // `slab-debug`: SLAB_DEBUG on every cache
};

// What SMP bring-up found and did (smp.cpp).
struct Smp {
  arch::AcpiCpus acpi;
  const char* source = "";       // where the CPU list came from, or why there is none
  unsigned found = 1;            // enabled CPUs the firmware lists (1 without a MADT)
  unsigned cpu_count = 1;        // given to the allocator: min(found, kMaxCpus)
  unsigned online = 1;           // CPUs running the allocator (the boot CPU included)
  unsigned unreachable = 0;      // listed with an x2APIC id > 254: not started
  uint32_t boot_apic_id = 0;
  uint64_t lapic_phys = 0, lapic_virt = 0;
  uint32_t timer_counts_per_ms = 0;
  uint32_t timer_period_us = 0;
  uint64_t trampoline = 0;       // physical; 0 once returned to the allocator
  uint64_t trampoline_used = 0;  // where it was
  uint64_t bringup_us = 0;       // INIT of the first AP -> last AP online
  const char* error = nullptr;   // why an AP (or the APIC) could not be started
  // APs not started because the allocator had no memory for their stacks or
  // the trampoline (tiny machines with many CPUs: -m 3M -smp 12), each
  // checked when it happened against the free lists (no block of the order
  // asked for, smp.cpp). Such a machine runs the cases on the CPUs it has;
  // the selftest names the rest as skipped. Any other reason is a failure.
  unsigned not_started_no_memory = 0;
  // CPUs found but left out of cpu_count because PageAllocator::init had
  // no room for their caches (main.cpp: it is retried with fewer CPUs).
  unsigned cpus_without_caches = 0;
};

struct Kernel {
  Options options;
  boot::BootInfo boot;
  // The allocator manages usable RAM from 64 KiB up (Linux's default
  // X86_RESERVE_LOW): the first 64 KiB hold the IVT and BIOS data and are
  // where firmware is known to scribble; the rest of conventional memory is
  // ordinary RAM, and the AP trampoline must be able to get frames below
  // 1 MiB from the allocator instead of assuming some are free.
  static constexpr MemmapOptions kMapOptions{.low_reserved_end = 64 * KiB};
  MemoryMap map{kMapOptions};
  // What PageAllocator::init is given: `map` with every region of a managed
  // type (Usable, the reclaimable classes) cut at arch::kBootDirectMapLimit,
  // the rest as in `map` (so add_memory still refuses the non-RAM entries
  // above). Built by map_within_boot_reach; main.cpp says why.
  MemoryMap init_map{kMapOptions};
  // Memory above the boot limit, hot-added once the kernel's own tables map
  // it (add_high_memory). Invariant once it has run: every Usable frame of
  // `map` at or above the limit is in an added range (added_frames) or in an
  // entry add_memory refused (refused_frames, said on serial); the
  // reclaimable classes above the limit are not managed (unmanaged_frames).
  struct HighMemory {
    uint64_t ranges = 0;            // add_memory calls that succeeded
    uint64_t added_frames = 0;      // frames of those ranges, metadata included
    uint64_t refused_frames = 0;    // Usable frames add_memory refused
    uint64_t unmanaged_frames = 0;  // BootloaderReclaimable/AcpiReclaimable above the limit
  } high;
  PageAllocator& pages = global_pages();
  SlabAllocator& slab = global_slab();

  // Page tables.
  uint64_t address_space_root = 0;
  arch::MappingStats mapping;
  uint64_t max_page = 0;  // largest page used for the direct map
  bool nx = false;
  static constexpr size_t kMaxDirectMap = 128;
  PhysRange direct_map[kMaxDirectMap];
  size_t direct_map_count = 0;
  PhysRange readonly_alias;  // text + rodata, read-only in the direct map too
  uint64_t boot_frames_released = 0;
  PhysRange boot_region;     // [__boot_start, __boot_end)

  // Integrity baselines taken before the allocator existed.
  uint64_t image_checksum = 0;  // text + rodata
  static constexpr size_t kMaxModules = 16;
  ModuleCheck modules[kMaxModules];
  size_t module_count = 0;

  Smp smp;

  // Timing (TSC).
  uint64_t tsc_entry = 0;          // first instruction of _start
  uint64_t tsc_main = 0;           // kernel_main entered
  uint64_t tsc_init = 0;           // map normalised, PageAllocator::init called
  uint64_t tsc_pages_ready = 0;    // PageAllocator::init returned
  uint64_t tsc_tables_live = 0;    // own page tables loaded, boot tables released
  uint64_t tsc_high_added = 0;     // memory above the boot limit hot-added
  uint64_t tsc_slab_ready = 0;     // SlabAllocator::init returned
  size_t constructors_run = 0;
};

Kernel& kernel();

// The physical ranges the direct map must cover: every entry of a RAM type
// (Usable, BootloaderReclaimable, Kernel, AcpiReclaimable, AcpiNvs), adjacent
// entries merged, frame 0 left out. Returns the count (<= capacity).
size_t plan_direct_map(const MemoryMap& map, PhysRange* out, size_t capacity);
bool is_direct_mapped_type(RegionType t);

// Builds the kernel's page tables with frames from `k.pages`, loads them and
// releases the boot region. Returns an error text, or nullptr on success.
const char* build_address_space(Kernel& k);

// Fills `out` (empty, normalised on return) from `full`: every raw region of
// a managed type cut at `limit` (bytes), every other region and reserve()
// overlay as it is. Below `limit` out.entries() equals full.entries(); above
// it only non-managed entries remain. Returns an error text or nullptr.
const char* map_within_boot_reach(const MemoryMap& full, uint64_t limit, MemoryMap& out);

// After build_address_space: every Usable entry of k.map at or above
// arch::kBootDirectMapLimit goes to k.pages.add_memory, lowest first, once
// the live tables are checked to map it; fills k.high. Returns an error text
// (a range the tables do not map) or nullptr; a range add_memory refuses is
// said on serial and counted, not fatal.
const char* add_high_memory(Kernel& k);

// Maps [virt, virt + size) -> phys in the live kernel tables, writable, not
// executable, 4 KiB pages; `mmio`: uncached. Returns an error text or nullptr.
const char* map_kernel_pages(Kernel& k, uint64_t virt, uint64_t phys, uint64_t size, bool mmio);

// ---- SMP (smp.cpp) ----------------------------------------------------------
// Before the allocator: the CPUs from ACPI (the boot tables' direct map must
// still be live) -> k.smp.found / cpu_count, the boot CPU's APIC id.
void smp_discover(Kernel& k);
// Right after PageAllocator::init, before anything else allocates: the
// trampoline's 4 frames below 1 MiB (k.smp.trampoline; none taken with one
// CPU, or when none are free). smp_start fills and returns them.
void smp_reserve_trampoline(Kernel& k);
// After the kernel's own tables and the slab layer: PICs masked, the LAPIC
// mapped and its timer calibrated and running on this CPU, interrupts on;
// then every other CPU started through a trampoline frame from the
// allocator (returned afterwards). Individual failures are recorded in
// k.smp.error and the CPU stays offline; this returns false only when
// interrupts could not be turned on at all (no APIC).
bool smp_start(Kernel& k);
// Runs fn(cpu, arg) on CPU `cpu` (an online AP) and returns at once; wait_cpu
// waits for it. run_on_all runs it on every online CPU, this one included,
// and returns when all are done.
void run_on_cpu(unsigned cpu, arch::CpuWork fn, void* arg);
void wait_cpu(unsigned cpu);
void run_on_all(arch::CpuWork fn, void* arg);
// Whether timer ticks allocate and free (pages, kmalloc objects) on every CPU.
void set_tick_allocations(bool on);
bool tick_allocations();
// "cpus: N online" and a per-CPU table: APIC id, ticks, timer allocations,
// ticks inside the allocator, and each CPU's page and object caches.
void format_cpus(const Kernel& k, TextBuffer& t);
// `run` mode: 100 ms in which every CPU allocates and frees (its caches
// fill) while every tick allocates too.
void smp_run_demo(Kernel& k);
// An asymmetric barrier: on return, every other online CPU has executed a
// full memory barrier since the call began (what a lock-free per-CPU fast
// path's remote stopper needs; i9-core's pfalloc_hook_sync_cpus). It sends
// each one an IPI and waits for its answer, except a CPU halted in
// idle_wait, which is answered by the barrier it executes on waking (see
// smp.cpp); it may be called with
// interrupts masked, by several CPUs at once: a CPU that waits (here, or in
// the allocator's spin loops, through pfalloc_hook_cpu_relax) answers the
// others' requests meanwhile (smp_service_sync), so two masked callers
// cannot wait for each other. With one CPU online it does nothing.
void smp_sync_cpus();
// Answers pending smp_sync_cpus requests on this CPU. Cheap when none.
void smp_service_sync();
// The last generation smp_sync_cpus handed out (one per call), for the tests.
uint64_t smp_sync_generation();
// Sleeps until the next interrupt (interrupts on), for wait loops.
void idle_wait();

// Checksums used to prove that memory was left alone.
uint64_t fnv1a_words(const void* data, size_t bytes);  // bytes % 8 == 0
uint32_t posix_cksum(const void* data, size_t bytes);  // the `cksum` utility's CRC

// Modes. Neither returns: both end the run through isa-debug-exit.
[[noreturn]] void run_report(Kernel& k);
[[noreturn]] void run_selftest(Kernel& k);

// Small text helpers for command lines: `word` appears as a whole word;
// `key=` followed by a decimal number.
bool has_word(const char* text, const char* word);
bool find_number(const char* text, const char* key, uint64_t& value);

}  // namespace pf::kernel
