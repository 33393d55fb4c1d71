// multiboot.hpp — whole boot-info parsing for the kernel: Multiboot1 and
// Multiboot2 information structures -> BootInfo plus MemoryMap regions.
//
// Owns nothing; reads the loader's structure through a PhysMap (phys + offset)
// and never writes to it. Freestanding, like the core.
//
// Tagging: what the loader handed over is reserved in `map` as what it is.
//   Boot information (the info structure, strings, module list, mmap buffer,
//   ELF section headers, drive table): BootloaderReclaimable. Every string
//   the kernel keeps is copied into BootInfo, so once the parse has returned
//   nothing points into it and pf_release_reserved() may hand it back.
//   Modules: Kernel (the kernel keeps them). A framebuffer: Reserved.
//
// Invariants after a successful parse:
//   every byte the loader handed over lies inside a range passed to
//   map.reserve(), tagged as above;
//   out.cmdline, out.loader_name and every module's cmdline point into
//   out.strings (never into loader memory); a string that did not fit was
//   cut short and counted in out.strings_truncated;
//   out.module_count <= 16 (extra modules are still reserved, not listed);
//   out.has_mmap == the map came from a full memory map (not mem_lower/upper).
// On failure (false, *error set) `out` and `map` may hold what was read so far.
// Running out of MemoryMap::kReservedCapacity is a failure too: boot data
// that could not be reserved would otherwise be handed out as free memory.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/mm/memmap.hpp"
#include "kernel/mm/platform.hpp"

namespace pf::boot {

struct BootModule {
  uint64_t start = 0, end = 0;
  const char* cmdline = nullptr;
};

// Holds pointers into itself (the strings): not copyable; parse into the
// instance that will be kept.
struct BootInfo {
  BootInfo() = default;
  BootInfo(const BootInfo&) = delete;
  BootInfo& operator=(const BootInfo&) = delete;

  const char* protocol = "";  // "multiboot1" / "multiboot2"
  const char* cmdline = "";   // kernel command line ("" if none)
  const char* loader_name = "";
  BootModule modules[16];
  size_t module_count = 0;
  bool has_mmap = false;
  // The loader's info structure: [info_phys, info_phys + info_size),
  // reserved as BootloaderReclaimable.
  uint64_t info_phys = 0, info_size = 0;
  // EFI system table (Multiboot2 tag 12, else tag 11), a physical address;
  // 0 if the loader passed none. efi_bits: 64, 32, or 0 when none.
  uint64_t efi_system_table = 0;
  unsigned efi_bits = 0;

  // The copies of the loader's strings (Linux keeps 2 KiB of command line;
  // here the command line, the loader name and the module strings share this).
  static constexpr size_t kStringCapacity = 4096;
  char strings[kStringCapacity] = {};
  size_t strings_used = 0;
  size_t strings_truncated = 0;  // strings cut short to fit
  // Copies s (NUL-terminated, at most `length` bytes read) into `strings`;
  // returns the copy ("" once the pool is full).
  const char* keep_string(const char* s, size_t length);

  // Physical address of the ACPI RSDP copy inside the Multiboot2 info (tag
  // 15, ACPI 2.0+, preferred; else tag 14, ACPI 1.0); 0 when the loader gave
  // none (Multiboot1: the kernel then searches the BIOS areas itself). The
  // copy lies inside the info structure: read it before that is handed back
  // (the kernel reads ACPI before its allocator exists).
  uint64_t acpi_rsdp = 0;
  uint8_t acpi_rsdp_tag = 0;  // 14 or 15; 0 with acpi_rsdp
};

// Parse the info structure at physical address info_phys, reached through `pm`
// (phys + offset). Adds the memory map (or mem_lower/mem_upper when there is
// no mmap) to `map`, and reserves what the loader handed over, tagged as above.
// `out` is reset first. Returns false with a reason on a malformed structure.
bool parse_multiboot1(uint64_t info_phys, const PhysMap& pm, BootInfo& out, MemoryMap& map,
                      const char** error);
bool parse_multiboot2(uint64_t info_phys, const PhysMap& pm, BootInfo& out, MemoryMap& map,
                      const char** error);

inline constexpr uint32_t kMultiboot1Magic = 0x2BADB002, kMultiboot2Magic = 0x36d76289;

}  // namespace pf::boot
