// adapters.cpp — see adapters.hpp. Each adapter checks the buffer's framing
// (sizes and counts) before it reads an entry, so a malformed buffer stops
// the walk at the first bad entry instead of reading past its end.
// Invariant per call: added + rejected == entries read; every entry read was
// handed to MemoryMap::add() unless the format marks it "ignore".
#include "adapters.hpp"

#include "bytes.hpp"

namespace pf::boot {

namespace {

using bytes::at;
using bytes::u32;
using bytes::u64;

void record(AdapterResult& result, MapStatus status) {
  switch (status) {
    case MapStatus::Ok:
    case MapStatus::Skipped: ++result.added; return;
    case MapStatus::Rejected: ++result.rejected; return;
    case MapStatus::CapacityExceeded:
      ++result.rejected;
      result.ok = false;
      result.error = "memory map capacity exceeded";
      return;
  }
}

AdapterResult failed(AdapterResult result, const char* why) {
  result.ok = false;
  result.error = why;
  return result;
}

// Multiboot1 and Multiboot2 share the BIOS E820 type numbers.
constexpr size_t kE820Entry = 20;        // base u64, length u64, type u32
constexpr size_t kE820ExtEntry = 24;     // ... plus ACPI 3.0 extended attributes u32
constexpr uint32_t kE820ExtEnabled = 1;  // bit 0 clear: "ignore this entry"

constexpr size_t kMb1EntryMin = 20;   // size field not counted
constexpr size_t kMb2TagHeader = 16;  // type, size, entry_size, entry_version
constexpr size_t kMb2EntryMin = 24;   // base, length, type, reserved
constexpr uint32_t kMb2MmapTag = 6;

constexpr size_t kEfiDescriptorMin =
    40;  // Type, pad, PhysicalStart, VirtualStart, Pages, Attribute
constexpr uint64_t kEfiPageShift = 12;
constexpr uint64_t kEfiMemorySp = uint64_t{1} << 18;  // EFI_MEMORY_SP: "specific purpose"

}  // namespace

RegionType e820_type(uint32_t raw) {
  switch (raw) {
    case 1: return RegionType::Usable;
    case 3: return RegionType::AcpiReclaimable;
    case 4: return RegionType::AcpiNvs;
    case 5: return RegionType::Bad;
    default: return RegionType::Reserved;  // 2, persistent memory (7, 12), anything new
  }
}

RegionType uefi_type(uint32_t raw) {
  switch (raw) {
    case 1:  // EfiLoaderCode
    case 2:  // EfiLoaderData
      return RegionType::BootloaderReclaimable;
    case 3:  // EfiBootServicesCode
    case 4:  // EfiBootServicesData
    case 7:  // EfiConventionalMemory
      return RegionType::Usable;
    case 8:  // EfiUnusableMemory
      return RegionType::Bad;
    case 9:  // EfiACPIReclaimMemory
      return RegionType::AcpiReclaimable;
    case 10:  // EfiACPIMemoryNVS
      return RegionType::AcpiNvs;
    default:  // reserved, runtime services, MMIO, PAL code, persistent, unaccepted, OEM
      return RegionType::Reserved;
  }
}

RegionType limine_type(uint64_t raw) {
  switch (raw) {
    case 0: return RegionType::Usable;
    case 1: return RegionType::Reserved;
    case 2: return RegionType::AcpiReclaimable;
    case 3: return RegionType::AcpiNvs;
    case 4: return RegionType::Bad;
    case 5: return RegionType::BootloaderReclaimable;
    case 6: return RegionType::Kernel;    // executable and modules
    case 7: return RegionType::Reserved;  // framebuffer
    default: return RegionType::Reserved;
  }
}

AdapterResult add_multiboot1_mmap(const void* mmap, uint32_t mmap_length, MemoryMap& map) {
  AdapterResult result;
  if (mmap_length == 0) return result;
  if (mmap == nullptr) return failed(result, "multiboot1 mmap: null buffer");
  const unsigned char* p = at(mmap);
  size_t off = 0;
  while (off < mmap_length) {
    if (mmap_length - off < 4) return failed(result, "multiboot1 mmap: truncated size field");
    const uint32_t size = u32(p, off);
    if (size < kMb1EntryMin) return failed(result, "multiboot1 mmap: entry size below 20");
    if (size > mmap_length - off - 4)
      return failed(result, "multiboot1 mmap: entry runs past mmap_length");
    const unsigned char* e = p + off + 4;
    record(result,
           map.add({.base = u64(e, 0), .length = u64(e, 8), .type = e820_type(u32(e, 16))}));
    off += 4 + static_cast<size_t>(size);
  }
  return result;
}

AdapterResult add_multiboot2_mmap_tag(const void* tag, MemoryMap& map) {
  AdapterResult result;
  if (tag == nullptr) return failed(result, "multiboot2 mmap tag: null");
  const unsigned char* p = at(tag);
  if (u32(p, 0) != kMb2MmapTag) return failed(result, "multiboot2 mmap tag: type is not 6");
  const uint32_t size = u32(p, 4);
  if (size < kMb2TagHeader) return failed(result, "multiboot2 mmap tag: size below its header");
  const uint32_t entry_size = u32(p, 8);
  if (entry_size < kMb2EntryMin) return failed(result, "multiboot2 mmap tag: entry_size below 24");
  const size_t count = (size - kMb2TagHeader) / entry_size;
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* e = p + kMb2TagHeader + i * entry_size;
    record(result,
           map.add({.base = u64(e, 0), .length = u64(e, 8), .type = e820_type(u32(e, 16))}));
  }
  if ((size - kMb2TagHeader) % entry_size != 0) {
    return failed(result, "multiboot2 mmap tag: size is not header + n * entry_size");
  }
  return result;
}

AdapterResult add_e820(const void* entries, size_t count, size_t entry_size, MemoryMap& map) {
  AdapterResult result;
  if (count == 0) return result;
  if (entries == nullptr) return failed(result, "e820: null buffer");
  if (entry_size < kE820Entry) return failed(result, "e820: entry_size below 20");
  const unsigned char* p = at(entries);
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* e = p + i * entry_size;
    if (entry_size >= kE820ExtEntry && (u32(e, 20) & kE820ExtEnabled) == 0) {
      ++result.rejected;  // ACPI 3.0: extended attribute bit 0 clear means "ignore"
      continue;
    }
    record(result,
           map.add({.base = u64(e, 0), .length = u64(e, 8), .type = e820_type(u32(e, 16))}));
  }
  return result;
}

AdapterResult add_uefi_memmap(const void* descriptors, size_t map_size, size_t descriptor_size,
                              MemoryMap& map) {
  AdapterResult result;
  if (map_size == 0) return result;
  if (descriptors == nullptr) return failed(result, "uefi memmap: null buffer");
  if (descriptor_size < kEfiDescriptorMin) {
    return failed(result, "uefi memmap: descriptor_size below 40");
  }
  const unsigned char* p = at(descriptors);
  const size_t count = map_size / descriptor_size;
  for (size_t i = 0; i < count; ++i) {
    const unsigned char* d = p + i * descriptor_size;
    const uint64_t pages = u64(d, 24);
    // A page count whose byte length does not fit in 64 bits cannot be real:
    // saturate, and MemoryMap rejects it as beyond the physical width.
    const uint64_t length =
        pages > (~uint64_t{0} >> kEfiPageShift) ? ~uint64_t{0} : pages << kEfiPageShift;
    RegionType type = uefi_type(u32(d, 0));
    // Specific-purpose memory is meant for a particular driver, not the
    // general allocator (Linux calls it "soft reserved").
    if (type == RegionType::Usable && (u64(d, 32) & kEfiMemorySp) != 0) type = RegionType::Reserved;
    record(result, map.add({.base = u64(d, 8), .length = length, .type = type}));
  }
  if (map_size % descriptor_size != 0) {
    return failed(result, "uefi memmap: map_size is not a multiple of descriptor_size");
  }
  return result;
}

AdapterResult add_limine_memmap(const void* const* entries, uint64_t count, MemoryMap& map) {
  AdapterResult result;
  if (count == 0) return result;
  if (entries == nullptr) return failed(result, "limine memmap: null entry array");
  for (uint64_t i = 0; i < count; ++i) {
    if (entries[i] == nullptr) return failed(result, "limine memmap: null entry");
    const unsigned char* e = at(entries[i]);
    record(result,
           map.add({.base = u64(e, 0), .length = u64(e, 8), .type = limine_type(u64(e, 16))}));
  }
  return result;
}

}  // namespace pf::boot
