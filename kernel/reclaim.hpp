// reclaim.hpp — memory handed back after boot, and what stays reserved.
//
// The kernel calls hand_back() once per reclaimable class, at the point where
// it no longer reads that memory (main.cpp says where and why); each call goes
// through the public pf_release_reserved() and logs what came back. The run
// report prints format_reserved(): the frames handed back, and every frame
// still kept out of the allocator, by reason.
// Single CPU at the time of the calls: the counts below need no lock.
#pragma once

#include <cstdint>

#include "kernel/kernel.hpp"
#include "kernel/mm/memmap.hpp"
#include "kernel/mm/text.hpp"

namespace pf::kernel {

struct HandedBack {
  uint64_t bootloader_frames = 0;  // loader code/data, boot information
  uint64_t acpi_frames = 0;        // ACPI tables
  bool bootloader_done = false, acpi_done = false;
};

// pf_release_reserved(type) for BootloaderReclaimable or AcpiReclaimable,
// counted and logged ("handed back: ..."). Returns the frames released.
uint64_t hand_back(Kernel& k, RegionType type);
const HandedBack& handed_back();

// "memory handed back" and "still reserved, by reason" for the run report.
void format_reserved(const Kernel& k, TextBuffer& out);

}  // namespace pf::kernel
