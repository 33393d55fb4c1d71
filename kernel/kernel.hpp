// kernel.hpp — the booted kernel's state, shared by main.cpp (boot sequence),
// report.cpp (`run` mode) and selftest.cpp (`test` mode).
//
// Owns the one MemoryMap of the kernel and what the boot sequence measured on
// the way. Its PageAllocator and SlabAllocator are the global instances behind
// the C API (kernel/mm/global.hpp): the kernel drives them through the C++
// classes, and C code in it can call alloc_pages()/kmalloc() all the same.
// Single CPU, interrupts off: no locking here.
//
// Invariants once boot_memory() has returned:
//   map.normalised(); pages.initialised(); slab.initialised();
//   CR3 == address_space_root (the kernel's own tables), the boot tables and
//   the 32-bit entry code ([__boot_start, __boot_end)) were released;
//   every physical range in direct_map[] is mapped at kDirectMapBase + phys.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/arch/x86_64/paging.hpp"
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

struct Kernel {
  Options options;
  boot::BootInfo boot;
  MemoryMap map;
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

  // Timing (TSC).
  uint64_t tsc_entry = 0;          // first instruction of _start
  uint64_t tsc_main = 0;           // kernel_main entered
  uint64_t tsc_init = 0;           // map normalised, PageAllocator::init called
  uint64_t tsc_pages_ready = 0;    // PageAllocator::init returned
  uint64_t tsc_tables_live = 0;    // own page tables loaded, boot tables released
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
