// multiboot.hpp — whole boot-info parsing for the kernel: Multiboot1 and
// Multiboot2 information structures -> BootInfo plus MemoryMap regions.
//
// Owns nothing; reads the loader's structure through a PhysMap (phys + offset)
// and never writes to it. Freestanding, like the core.
//
// Invariants after a successful parse:
//   every byte the loader handed over that the kernel may still read (the info
//   structure, the command line, the loader name, the module list, every
//   module, the mmap buffer) lies inside a range passed to map.reserve();
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

struct BootInfo {
  const char* protocol = "";  // "multiboot1" / "multiboot2"
  const char* cmdline = "";   // kernel command line ("" if none)
  const char* loader_name = "";
  BootModule modules[16];
  size_t module_count = 0;
  bool has_mmap = false;
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
// no mmap) to `map`, and reserves (RegionType::Kernel or Reserved) the info
// structure itself, the command line, the module list, every module, and the
// mmap buffer. Returns false with a reason on a malformed structure.
bool parse_multiboot1(uint64_t info_phys, const PhysMap& pm, BootInfo& out, MemoryMap& map,
                      const char** error);
bool parse_multiboot2(uint64_t info_phys, const PhysMap& pm, BootInfo& out, MemoryMap& map,
                      const char** error);

inline constexpr uint32_t kMultiboot1Magic = 0x2BADB002, kMultiboot2Magic = 0x36d76289;

}  // namespace pf::boot
