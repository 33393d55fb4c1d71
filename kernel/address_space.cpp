// address_space.cpp — the kernel's own page tables: a direct map of all RAM
// the memory map describes, and the kernel image mapped W^X.
//
// What gets mapped (and nothing else):
//   kDirectMapBase + p -> p  for p in every entry of a RAM type, frame 0
//                            excepted; writable, not executable; large pages
//                            (1 GiB when CPUID offers them, else 2 MiB) where
//                            alignment allows, 4 KiB at the edges. The
//                            physical pages of text and rodata are read-only
//                            here too, so the image has no writable alias.
//   kKernelVma + p -> p      text: read + execute; rodata: read;
//                            data and bss: read + write; the stack guard
//                            pages are left out.
//   kCpuStackBase + ...      each AP's kernel and IST stacks (map_kernel_pages,
//                            smp.cpp): writable, not executable, 4 KiB pages,
//                            a guard page below each stack left out.
//   kMmioBase + ...          the local APIC page: writable, uncached, NX.
// The direct map covers RAM above 4 GiB too, though the allocator does not
// manage it yet when the tables are built: add_high_memory (below) hands it
// over afterwards, and only through this map.
// Holes, Reserved and Bad entries, and the low virtual half (the identity
// map the boot tables had) are not mapped.
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/layout.hpp"
#include "kernel/kernel.hpp"
#include "kernel/mm/text.hpp"

namespace pf::kernel {

bool is_direct_mapped_type(RegionType t) {
  switch (t) {
    case RegionType::Usable:
    case RegionType::BootloaderReclaimable:
    case RegionType::Kernel:
    case RegionType::AcpiReclaimable:
    case RegionType::AcpiNvs:
      return true;
    case RegionType::Reserved:
    case RegionType::Bad:
      return false;
  }
  return false;
}

size_t plan_direct_map(const MemoryMap& map, PhysRange* out, size_t capacity) {
  size_t n = 0;
  for (const MapEntry& e : map.entries()) {
    if (!is_direct_mapped_type(e.type)) continue;
    uint64_t base = e.base.value, end = e.end.value;
    if (base == 0) base = kPageSize;  // frame 0 stays unmapped: null must fault
    if (base >= end) continue;
    if (n > 0 && out[n - 1].end == base) {
      out[n - 1].end = end;
      continue;
    }
    if (n == capacity) return n;
    out[n++] = {base, end};
  }
  return n;
}

namespace {

// Maps [base, end) of the direct map, with `ro` (may be empty) read-only.
bool map_direct(arch::AddressSpace& as, uint64_t base, uint64_t end, PhysRange ro,
                uint64_t max_page) {
  auto piece = [&](uint64_t b, uint64_t e, bool writable) {
    return b >= e || as.map(arch::kDirectMapBase + b, b, e - b, writable, false, max_page);
  };
  const uint64_t ro_b = ro.base < base ? base : (ro.base > end ? end : ro.base);
  const uint64_t ro_e = ro.end > end ? end : (ro.end < ro_b ? ro_b : ro.end);
  return piece(base, ro_b, true) && piece(ro_b, ro_e, false) && piece(ro_e, end, true);
}

bool map_image(arch::AddressSpace& as, const char* begin, const char* end, bool writable,
               bool executable) {
  const uint64_t v = arch::sym(begin);
  return as.map(v, arch::kernel_virt_to_phys(v), arch::sym(end) - v, writable, executable,
                arch::k4KiB);
}

}  // namespace

const char* build_address_space(Kernel& k) {
  k.nx = arch::has_nx();
  k.max_page = arch::has_1gib_pages() ? arch::k1GiB : arch::k2MiB;
  k.direct_map_count = plan_direct_map(k.map, k.direct_map, Kernel::kMaxDirectMap);
  if (k.direct_map_count == Kernel::kMaxDirectMap) return "too many direct-map ranges";
  k.readonly_alias = {arch::kernel_virt_to_phys(arch::sym(__text_start)),
                      arch::kernel_virt_to_phys(arch::sym(__rodata_end))};

  // Table frames must be reachable through the boot direct map: below 4 GiB
  // (where all the allocator manages lies until add_high_memory anyway).
  arch::AddressSpace as(k.pages, __GFP_DMA32 | __GFP_ZERO, k.nx ? arch::kPteNoExecute : 0);
  if (!as.create()) return "no frame for the PML4";
  for (size_t i = 0; i < k.direct_map_count; ++i) {
    if (!map_direct(as, k.direct_map[i].base, k.direct_map[i].end, k.readonly_alias, k.max_page))
      return "mapping the direct map failed (out of memory or overlap)";
  }
  const bool image_ok =
      map_image(as, __text_start, __text_end, false, true) &&
      map_image(as, __rodata_start, __rodata_end, false, false) &&
      map_image(as, __data_start, kernel_stack_guard, true, false) &&
      map_image(as, kernel_stack_guard + kPageSize, fault_stack_guard, true, false) &&
      map_image(as, fault_stack_guard + kPageSize, __bss_end, true, false);
  if (!image_ok) return "mapping the kernel image failed";

  as.activate();
  arch::write_cr0(arch::read_cr0() | arch::kCr0Wp);
  k.address_space_root = as.root();
  k.mapping = as.stats();

  // Nothing refers to the boot part any more: the 32-bit entry ran, the GDT
  // was replaced, the boot tables are no longer in CR3.
  k.boot_frames_released =
      k.pages.release_reserved(PhysAddr{k.boot_region.base}, (k.boot_region.end - k.boot_region.base) >> kPageShift);
  if (k.boot_frames_released != (k.boot_region.end - k.boot_region.base) >> kPageShift)
    return "the boot region was not released in full";
  return nullptr;
}

const char* map_within_boot_reach(const MemoryMap& full, uint64_t limit, MemoryMap& out) {
  for (const Region& r : full.raw()) {
    Region cut = r;
    if (region_is_managed(r.type)) {
      if (r.base >= limit) continue;  // wholly above: hot-added later, or not managed
      if (r.length > limit - r.base) cut.length = limit - r.base;
    }
    if (out.add(cut) == MapStatus::CapacityExceeded) return "the init map has no room for a region";
  }
  // The overlays only ever raise a type; above the limit they fall on no
  // managed memory now and vanish, below it they act as in `full`.
  for (const Region& r : full.reserved())
    if (out.reserve(r.base, r.length, r.type) == MapStatus::CapacityExceeded)
      return "the init map has no room for a reserved range";
  if (!out.normalise()) return "the init map overflowed";
  return nullptr;
}

const char* add_high_memory(Kernel& k) {
  const uint64_t limit = arch::kBootDirectMapLimit;
  for (const MapEntry& e : k.map.entries()) {
    if (!region_is_managed(e.type) || e.end.value <= limit) continue;
    const uint64_t base = e.base.value > limit ? e.base.value : limit, end = e.end.value;
    if (e.type != RegionType::Usable) {
      // Still in use (a module, ACPI tables) and add_memory frees every
      // frame at once: left out. The loaders used here never put any there.
      k.high.unmanaged_frames += (end - base) >> kPageShift;
      LogLine().text().str("*** ").str(region_type_name(e.type)).str(" memory above 4 GiB [")
          .hex(base).str(", ").hex(end).str(") is not managed").nl();
      continue;
    }
    // add_memory writes the range's first frames through the direct map:
    // the live tables must map all of it (build_address_space mapped every
    // RAM entry of k.map; checked here, first and last frame).
    bool planned = false;
    for (size_t i = 0; i < k.direct_map_count; ++i)
      planned = planned || (k.direct_map[i].base <= base && end <= k.direct_map[i].end);
    const arch::Translation first = arch::translate(k.address_space_root, arch::kDirectMapBase,
                                                    arch::kDirectMapBase + base);
    const arch::Translation last = arch::translate(k.address_space_root, arch::kDirectMapBase,
                                                   arch::kDirectMapBase + end - kPageSize);
    if (!planned || !first.present || !first.writable || first.phys != base || !last.present ||
        !last.writable || last.phys != end - kPageSize)
      return "memory above 4 GiB is not in the direct map";
    const int status = k.pages.add_memory(PhysAddr{base}, end - base);
    if (status != PF_OK) {
      // E.g. an entry too small to hold its own metadata (PF_ERR_HOTPLUG_TOO_SMALL).
      k.high.refused_frames += (end - base) >> kPageShift;
      LogLine().text().str("*** add_memory [").hex(base).str(", ").hex(end).str(") returned ")
          .sdec(status).str(": not managed").nl();
      continue;
    }
    ++k.high.ranges;
    k.high.added_frames += (end - base) >> kPageShift;
  }
  return nullptr;
}

}  // namespace pf::kernel

namespace pf::kernel {

const char* map_kernel_pages(Kernel& k, uint64_t virt, uint64_t phys, uint64_t size, bool mmio) {
  arch::AddressSpace as(k.pages, __GFP_ZERO, k.nx ? arch::kPteNoExecute : 0);
  as.adopt(k.address_space_root);
  const uint64_t extra = mmio ? (arch::kPteCacheDisable | arch::kPteWriteThrough) : 0;
  if (!as.map(virt, phys, size, true, false, arch::k4KiB, extra))
    return "mapping failed (out of memory for a table, or the range is already mapped)";
  k.mapping.tables += as.stats().tables;
  k.mapping.leaves_4k += as.stats().leaves_4k;
  return nullptr;
}

}  // namespace pf::kernel
