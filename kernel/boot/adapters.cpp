// adapters.cpp — see adapters.hpp. (Stub: bodies follow.)
#include "adapters.hpp"

namespace pf::boot {

namespace {
AdapterResult not_yet() { return {.added = 0, .rejected = 0, .ok = false, .error = "not implemented"}; }
}  // namespace

AdapterResult add_multiboot1_mmap(const void*, uint32_t, MemoryMap&) { return not_yet(); }
AdapterResult add_multiboot2_mmap_tag(const void*, MemoryMap&) { return not_yet(); }
AdapterResult add_e820(const void*, size_t, size_t, MemoryMap&) { return not_yet(); }
AdapterResult add_uefi_memmap(const void*, size_t, size_t, MemoryMap&) { return not_yet(); }
AdapterResult add_limine_memmap(const void* const*, uint64_t, MemoryMap&) { return not_yet(); }
RegionType e820_type(uint32_t) { return RegionType::Reserved; }
RegionType uefi_type(uint32_t) { return RegionType::Reserved; }
RegionType limine_type(uint64_t) { return RegionType::Reserved; }

}  // namespace pf::boot
