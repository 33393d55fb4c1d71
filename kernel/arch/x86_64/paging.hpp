// paging.hpp — the kernel's own 4-level page tables, built from frames the
// page allocator hands out, and a walker that reads any tables back.
//
// Owns: the table frames of one address space (allocated, never freed: the
// kernel's address space lives as long as the kernel). Tables are reached
// through the direct map (phys + offset), so while the boot tables are live
// (they map only the first 4 GiB) table frames must come from below 4 GiB;
// the caller passes the allocation flags (GFP_DMA32 then).
//
// Invariants of a built address space:
//   a leaf maps virt -> phys with virt, phys and size aligned to the leaf
//   size (4 KiB, 2 MiB or 1 GiB); no two leaves overlap; intermediate
//   entries are present | writable (leaves carry the permissions).
#pragma once

#include <cstdint>

#include "kernel/mm/page_alloc.hpp"

namespace pf::arch {

// Page-table entry bits.
inline constexpr uint64_t kPtePresent = 1u << 0;
inline constexpr uint64_t kPteWritable = 1u << 1;
inline constexpr uint64_t kPteWriteThrough = 1u << 3;
inline constexpr uint64_t kPteCacheDisable = 1u << 4;  // with write-through: UC (MMIO)
inline constexpr uint64_t kPteLarge = 1u << 7;   // 2 MiB in a PD, 1 GiB in a PDPT
inline constexpr uint64_t kPteGlobal = 1u << 8;
inline constexpr uint64_t kPteNoExecute = uint64_t{1} << 63;
inline constexpr uint64_t kPteAddrMask = 0x000ffffffffff000;

inline constexpr uint64_t k4KiB = uint64_t{1} << 12, k2MiB = uint64_t{1} << 21,
                          k1GiB = uint64_t{1} << 30;

struct MappingStats {
  uint64_t tables = 0;  // table frames allocated (PML4 included)
  uint64_t leaves_4k = 0, leaves_2m = 0, leaves_1g = 0;
};

class AddressSpace {
 public:
  // `table_flags`: gfp flags for table frames (GFP_DMA32 while only the boot
  // direct map exists). `nx_bit`: kPteNoExecute if EFER.NXE is on, else 0.
  AddressSpace(PageAllocator& pages, gfp_t table_flags, uint64_t nx_bit)
      : pages_(pages), table_flags_(table_flags), nx_(nx_bit) {}

  bool create();  // allocates the PML4
  // Continues an address space built before (its PML4 at `root`): later
  // mappings (stacks, MMIO) go into the same tables.
  void adopt(uint64_t root) { root_ = root; }
  // Maps [virt, virt + size) -> [phys, ...) with the given leaf permissions
  // (kPteWritable and/or `executable`), using the largest pages alignment and
  // `max_page` allow. False on out of memory or an overlap with a mapping.
  // `extra_bits` go into every leaf (kPteCacheDisable | kPteWriteThrough for MMIO).
  bool map(uint64_t virt, uint64_t phys, uint64_t size, bool writable, bool executable,
           uint64_t max_page, uint64_t extra_bits = 0);
  uint64_t root() const { return root_; }
  const MappingStats& stats() const { return stats_; }
  void activate() const;  // loads CR3

 private:
  uint64_t* table_at(uint64_t phys) const;
  // The next-level table under `entry`, allocating it if absent; nullptr on
  // out of memory or when `entry` is a large leaf.
  uint64_t* descend(uint64_t& entry);
  bool map_one(uint64_t virt, uint64_t phys, uint64_t page, uint64_t leaf_bits);

  PageAllocator& pages_;
  gfp_t table_flags_;
  uint64_t nx_;
  uint64_t root_ = 0;
  MappingStats stats_;
};

// One leaf as the walker sees it, with permissions combined along the path.
struct Leaf {
  uint64_t virt, phys, size;
  bool writable, executable;
};

// Calls fn(const Leaf&) for every present leaf of the tables at `root_phys`
// whose virtual address lies in [virt_begin, virt_end) (canonical addresses),
// in ascending virtual order. Tables are read through `phys_offset`.
template <typename Fn>
void walk_leaves(uint64_t root_phys, uintptr_t phys_offset, uint64_t virt_begin,
                 uint64_t virt_end, Fn&& fn);

// What the tables at `root_phys` make of one virtual address.
struct Translation {
  bool present = false;
  uint64_t phys = 0, page_size = 0;
  bool writable = false, executable = false;
  bool uncached = false;  // the leaf has PCD set
};
inline Translation translate(uint64_t root_phys, uintptr_t phys_offset, uint64_t virt);

// Sign-extends bit 47: the canonical form of a 48-bit virtual address.
constexpr uint64_t canonical(uint64_t v) {
  return (v & (uint64_t{1} << 47)) ? (v | 0xffff000000000000) : (v & 0x0000ffffffffffff);
}

}  // namespace pf::arch

// ---- walk_leaves ---------------------------------------------------------------
namespace pf::arch {

template <typename Fn>
void walk_leaves(uint64_t root_phys, uintptr_t phys_offset, uint64_t virt_begin,
                 uint64_t virt_end, Fn&& fn) {
  auto table = [&](uint64_t phys) {
    return reinterpret_cast<const uint64_t*>((phys & kPteAddrMask) + phys_offset);
  };
  const uint64_t* pml4 = table(root_phys);
  for (unsigned i4 = 0; i4 < 512; ++i4) {
    const uint64_t e4 = pml4[i4];
    if (!(e4 & kPtePresent)) continue;
    const uint64_t v4 = canonical(uint64_t{i4} << 39);
    if (v4 + (uint64_t{1} << 39) - 1 < virt_begin || v4 >= virt_end) continue;
    const uint64_t* pdpt = table(e4);
    for (unsigned i3 = 0; i3 < 512; ++i3) {
      const uint64_t e3 = pdpt[i3];
      if (!(e3 & kPtePresent)) continue;
      const uint64_t v3 = v4 + (uint64_t{i3} << 30);
      const bool w3 = (e4 & e3 & kPteWritable) != 0;
      const bool x3 = ((e4 | e3) & kPteNoExecute) == 0;
      if (e3 & kPteLarge) {
        if (v3 >= virt_begin && v3 < virt_end)
          fn(Leaf{v3, e3 & kPteAddrMask & ~(k1GiB - 1), k1GiB, w3, x3});
        continue;
      }
      const uint64_t* pd = table(e3);
      for (unsigned i2 = 0; i2 < 512; ++i2) {
        const uint64_t e2 = pd[i2];
        if (!(e2 & kPtePresent)) continue;
        const uint64_t v2 = v3 + (uint64_t{i2} << 21);
        const bool w2 = w3 && (e2 & kPteWritable);
        const bool x2 = x3 && !(e2 & kPteNoExecute);
        if (e2 & kPteLarge) {
          if (v2 >= virt_begin && v2 < virt_end)
            fn(Leaf{v2, e2 & kPteAddrMask & ~(k2MiB - 1), k2MiB, w2, x2});
          continue;
        }
        const uint64_t* pt = table(e2);
        for (unsigned i1 = 0; i1 < 512; ++i1) {
          const uint64_t e1 = pt[i1];
          if (!(e1 & kPtePresent)) continue;
          const uint64_t v1 = v2 + (uint64_t{i1} << 12);
          if (v1 >= virt_begin && v1 < virt_end)
            fn(Leaf{v1, e1 & kPteAddrMask, k4KiB, w2 && (e1 & kPteWritable),
                    x2 && !(e1 & kPteNoExecute)});
        }
      }
    }
  }
}

inline Translation translate(uint64_t root_phys, uintptr_t phys_offset, uint64_t virt) {
  uint64_t table = root_phys;
  bool writable = true, executable = true;
  for (int shift = 39; shift >= 12; shift -= 9) {
    const auto* t = reinterpret_cast<const uint64_t*>((table & kPteAddrMask) + phys_offset);
    const uint64_t e = t[(virt >> shift) & 511];
    if (!(e & kPtePresent)) return {};
    writable = writable && (e & kPteWritable);
    executable = executable && !(e & kPteNoExecute);
    const uint64_t page = uint64_t{1} << shift;
    if (shift == 12 || ((e & kPteLarge) && shift <= 30)) {
      const uint64_t frame = e & kPteAddrMask & ~(page - 1);
      return {true, frame + (virt & (page - 1)), page, writable, executable,
              (e & kPteCacheDisable) != 0};
    }
    table = e;
  }
  return {};
}

}  // namespace pf::arch
