// layout.hpp — the kernel's address-space layout and the linker symbols
// that bound the image (linker/kernel.ld).
//
// Virtual layout:
//   [0xffff800000000000, + all RAM)   direct map: phys + kDirectMapBase
//   [0xfffffe8000000000, + 512 GiB)   CPU stacks: kCpuStackSlot per CPU, guard
//                                     pages left unmapped (PML4 slot 509)
//   [0xffffff0000000000, + 512 GiB)   MMIO, uncached: the local APIC (slot 510)
//   [0xffffffff80000000 + 1 MiB, ...) the kernel image: phys + kKernelVma
// Invariants: every bound below is page aligned; text < rodata < data < bss;
// image_phys_start <= boot_start < boot_end <= phys(text_start).
#pragma once

#include <cstdint>

namespace pf::arch {

inline constexpr uint64_t kDirectMapBase = 0xffff800000000000;
inline constexpr uint64_t kKernelVma = 0xffffffff80000000;
inline constexpr uint64_t kCpuStackBase = 0xfffffe8000000000;
inline constexpr uint64_t kCpuStackSlot = uint64_t{128} << 10;
inline constexpr uint64_t kMmioBase = 0xffffff0000000000;
// The direct map ends below this (walks of it stop here).
inline constexpr uint64_t kDirectMapEnd = kCpuStackBase;
// The boot tables' direct map covers this much (boot.S).
inline constexpr uint64_t kBootDirectMapLimit = uint64_t{4} << 30;

}  // namespace pf::arch

extern "C" {
extern char __image_phys_start[], __image_phys_end[];  // physical, as symbols
extern char __boot_start[], __boot_end[];              // physical
extern char __text_start[], __text_end[];
extern char __rodata_start[], __rodata_end[];
extern char __data_start[], __bss_start[], __bss_end[], __kernel_end[];
extern char kernel_stack_guard[], fault_stack_guard[];  // one unmapped page each
extern char boot_stack_top[], fault_stack_top[];
}

namespace pf::arch {

inline uint64_t sym(const char* s) { return reinterpret_cast<uint64_t>(s); }
inline uint64_t kernel_virt_to_phys(uint64_t v) { return v - kKernelVma; }

}  // namespace pf::arch
