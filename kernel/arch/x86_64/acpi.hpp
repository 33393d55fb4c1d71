// acpi.hpp — just enough firmware tables to find the CPUs: ACPI's RSDP
// (from the boot loader, else the BIOS search areas), the RSDT/XSDT and the
// MADT's processor entries; and, for a machine without ACPI (QEMU's
// `-machine pc,acpi=off`, old BIOSes), the Intel MultiProcessor
// Specification's tables (1.4): the floating pointer in the BIOS search
// areas and the configuration table's processor entries.
//
// Owns nothing; reads firmware tables through a PhysMap that must cover
// them (the boot tables' direct map: the first 4 GiB; a table above
// `reach` is reported, not read). Every table's length and checksum is
// checked before a field of it is used.
//
// Result invariants: cpus[0..cpu_count) in MADT order, each usable (enabled,
// or online-capable and not enabled is *not* listed: it is counted in
// online_capable); cpu_count <= kMaxMadtCpus (more are counted in `dropped`).
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernel/mm/platform.hpp"

namespace pf::arch {

struct MadtCpu {
  uint32_t apic_id = 0;
  uint32_t acpi_uid = 0;
  bool x2apic_entry = false;  // came from a type 9 entry
};

struct AcpiCpus {
  static constexpr size_t kMaxMadtCpus = 256;
  const char* rsdp_source = "none";  // "multiboot2 tag 15", "EBDA", "BIOS area", ...
  uint64_t rsdp = 0;                 // physical address of the RSDP used
  uint8_t revision = 0;              // RSDP revision (0: ACPI 1.0, RSDT only)
  uint64_t madt = 0;                 // physical address of the MADT, 0 if none
  uint64_t lapic_address = 0;        // from the MADT (and its type 5 override)
  bool pcat_compat = false;          // MADT flag: 8259s present
  MadtCpu cpus[kMaxMadtCpus];
  size_t cpu_count = 0;              // enabled processors listed
  size_t online_capable = 0;         // present but not enabled (not started)
  size_t disabled = 0;               // neither enabled nor online-capable
  size_t dropped = 0;                // enabled beyond kMaxMadtCpus
  const char* error = nullptr;       // why no CPU list was found (nullptr: found)
  uint64_t mp_floating = 0;          // mps_find_cpus: the MP floating pointer used
  const char* mp_source = "none";    // where it was found ("EBDA", ...)
};

// rsdp_hint: the RSDP the loader passed (0: search the EBDA and
// 0xE0000-0xFFFFF). `reach`: tables must end below this physical address.
// Returns false with out.error set when no usable MADT was found.
bool acpi_find_cpus(uint64_t rsdp_hint, const char* hint_source, const PhysMap& pm,
                    uint64_t reach, AcpiCpus& out);

// The same list from the MP tables, for a machine without ACPI: the enabled
// processor entries (acpi_uid: the entry's index) of the base table, walked
// to its length (its entry count is not trusted), the local APIC address;
// a floating pointer naming one of the default configurations (no table)
// gives the two CPUs 0 and 1 that those define. `out` may be fresh or left
// by a failed acpi_find_cpus: the CPU list, its counts, pcat_compat and
// error are reset first (a MADT with no enabled CPU leaves online-capable
// and disabled counts), the ACPI fields (rsdp, madt, ...) are kept for the
// log.
// Returns false with out.error set when no usable table was found.
bool mps_find_cpus(const PhysMap& pm, uint64_t reach, AcpiCpus& out);

}  // namespace pf::arch
