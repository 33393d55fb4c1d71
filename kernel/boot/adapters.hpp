// adapters.hpp — boot-protocol memory maps turned into MemoryMap regions.
//
// Owns nothing: each adapter reads a buffer laid out as its specification
// describes (byte offsets, not C structs, so no packing or alignment is
// assumed of the caller's buffer) and calls MemoryMap::add() once per entry.
// Freestanding, like the core: no libc, no allocation.
//
// Invariants of every AdapterResult:
//   added + rejected == entries the buffer holds (entries read);
//   ok == false  <=>  the buffer itself is malformed (error names why) or the
//                     map's raw table filled up; entries read before the fault
//                     stay added.
// `rejected` counts entries MemoryMap refused (wrap, beyond the physical
// width, capacity) and entries the format itself marks as to be ignored.
// Zero-length entries count as added (MemoryMap skips them silently).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/mm/memmap.hpp"

namespace pf::boot {

struct AdapterResult {
  size_t added = 0;
  size_t rejected = 0;
  bool ok = true;
  const char* error = nullptr;
};

// Multiboot1 mmap buffer (entries with the leading `size` field, as in the spec).
AdapterResult add_multiboot1_mmap(const void* mmap, uint32_t mmap_length, MemoryMap& map);
// Multiboot2 memory-map tag (points at the tag header, type 6).
AdapterResult add_multiboot2_mmap_tag(const void* tag, MemoryMap& map);
// Raw E820 array: `count` entries of `entry_size` bytes (20, or 24 with ACPI
// 3.0 extended attributes; the "ignore this entry" bit is honoured).
AdapterResult add_e820(const void* entries, size_t count, size_t entry_size, MemoryMap& map);
// UEFI memory map (GetMemoryMap): map_size bytes of descriptor_size-byte
// EFI_MEMORY_DESCRIPTORs, read as after ExitBootServices: conventional and
// boot-services code/data usable; loader code/data BootloaderReclaimable; ACPI
// reclaim AcpiReclaimable; ACPI NVS AcpiNvs; unusable Bad; all else Reserved.
AdapterResult add_uefi_memmap(const void* descriptors, size_t map_size, size_t descriptor_size,
                              MemoryMap& map);
// Limine memmap response entries (array of pointers to {base, length, type}).
AdapterResult add_limine_memmap(const void* const* entries, uint64_t count, MemoryMap& map);

// Type translations, exposed for tests and for the kernel's reports.
RegionType e820_type(uint32_t raw);    // 1 usable, 2 reserved, 3 ACPI, 4 NVS, 5 bad
RegionType uefi_type(uint32_t raw);    // EFI_MEMORY_TYPE
RegionType limine_type(uint64_t raw);  // LIMINE_MEMMAP_*

}  // namespace pf::boot
