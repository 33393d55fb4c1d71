// paging.cpp — building page tables from allocator frames. See paging.hpp.
#include "kernel/arch/x86_64/paging.hpp"

#include "kernel/arch/x86_64/cpu.hpp"

namespace pf::arch {

uint64_t* AddressSpace::table_at(uint64_t phys) const {
  return pages_.to_virt<uint64_t>(PhysAddr{phys & kPteAddrMask});
}

bool AddressSpace::create() {
  const PhysAddr root = pages_.alloc_pages(Order{0}, table_flags_);
  if (root.is_null()) return false;
  uint64_t* t = table_at(root.value);
  for (unsigned i = 0; i < 512; ++i) t[i] = 0;
  root_ = root.value;
  stats_.tables = 1;
  return true;
}

uint64_t* AddressSpace::descend(uint64_t& entry) {
  if (entry & kPtePresent) {
    if (entry & kPteLarge) return nullptr;
    return table_at(entry);
  }
  const PhysAddr frame = pages_.alloc_pages(Order{0}, table_flags_);
  if (frame.is_null()) return nullptr;
  uint64_t* t = table_at(frame.value);
  for (unsigned i = 0; i < 512; ++i) t[i] = 0;
  entry = frame.value | kPtePresent | kPteWritable;
  ++stats_.tables;
  return t;
}

bool AddressSpace::map_one(uint64_t virt, uint64_t phys, uint64_t page, uint64_t leaf_bits) {
  uint64_t* pml4 = table_at(root_);
  uint64_t* pdpt = descend(pml4[(virt >> 39) & 511]);
  if (pdpt == nullptr) return false;
  uint64_t& e3 = pdpt[(virt >> 30) & 511];
  if (page == k1GiB) {
    if (e3 & kPtePresent) return false;
    e3 = phys | leaf_bits | kPteLarge;
    ++stats_.leaves_1g;
    return true;
  }
  uint64_t* pd = descend(e3);
  if (pd == nullptr) return false;
  uint64_t& e2 = pd[(virt >> 21) & 511];
  if (page == k2MiB) {
    if (e2 & kPtePresent) return false;
    e2 = phys | leaf_bits | kPteLarge;
    ++stats_.leaves_2m;
    return true;
  }
  uint64_t* pt = descend(e2);
  if (pt == nullptr) return false;
  uint64_t& e1 = pt[(virt >> 12) & 511];
  if (e1 & kPtePresent) return false;
  e1 = phys | leaf_bits;
  ++stats_.leaves_4k;
  return true;
}

bool AddressSpace::map(uint64_t virt, uint64_t phys, uint64_t size, bool writable,
                       bool executable, uint64_t max_page, uint64_t extra_bits) {
  if (((virt | phys | size) & (k4KiB - 1)) != 0) return false;
  const uint64_t bits = kPtePresent | kPteGlobal | (writable ? kPteWritable : 0) |
                        (executable ? 0 : nx_) | extra_bits;
  while (size > 0) {
    uint64_t page = k4KiB;
    for (uint64_t candidate : {k1GiB, k2MiB}) {
      if (candidate <= max_page && ((virt | phys) & (candidate - 1)) == 0 && size >= candidate) {
        page = candidate;
        break;
      }
    }
    if (!map_one(virt, phys, page, bits)) return false;
    virt += page;
    phys += page;
    size -= page;
  }
  return true;
}

void AddressSpace::activate() const { write_cr3(root_); }

}  // namespace pf::arch
