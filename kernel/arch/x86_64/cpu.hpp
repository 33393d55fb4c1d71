// cpu.hpp — the x86-64 instructions the kernel needs, as inline functions:
// port I/O, control registers, MSRs, CPUID, TSC, interrupt flag.
//
// Owns no state. Every function is a single instruction (or a short fixed
// sequence) so callers can reason about them as such.
#pragma once

#include <cstdint>

namespace pf::arch {

inline void outb(uint16_t port, uint8_t v) { asm volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
inline void outl(uint16_t port, uint32_t v) { asm volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
inline uint8_t inb(uint16_t port) {
  uint8_t v;
  asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
  return v;
}

inline uint64_t read_cr0() { uint64_t v; asm volatile("mov %%cr0, %0" : "=r"(v)); return v; }
inline uint64_t read_cr2() { uint64_t v; asm volatile("mov %%cr2, %0" : "=r"(v)); return v; }
inline uint64_t read_cr3() { uint64_t v; asm volatile("mov %%cr3, %0" : "=r"(v)); return v; }
inline uint64_t read_cr4() { uint64_t v; asm volatile("mov %%cr4, %0" : "=r"(v)); return v; }
inline void write_cr0(uint64_t v) { asm volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
inline void write_cr3(uint64_t v) { asm volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
inline void write_cr4(uint64_t v) { asm volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }

inline uint64_t rdmsr(uint32_t msr) {
  uint32_t lo, hi;
  asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
  return (uint64_t{hi} << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
  asm volatile("wrmsr" : : "c"(msr), "a"(static_cast<uint32_t>(v)),
               "d"(static_cast<uint32_t>(v >> 32)));
}

struct CpuidResult {
  uint32_t eax, ebx, ecx, edx;
};
inline CpuidResult cpuid(uint32_t leaf, uint32_t subleaf = 0) {
  CpuidResult r;
  asm volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx)
               : "a"(leaf), "c"(subleaf));
  return r;
}

// Serialising enough for benchmarks: lfence keeps earlier instructions from
// drifting past the read.
inline uint64_t rdtsc() {
  uint32_t lo, hi;
  asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi) : : "memory");
  return (uint64_t{hi} << 32) | lo;
}

inline uint64_t read_flags() {
  uint64_t f;
  asm volatile("pushfq; popq %0" : "=r"(f) : : "memory");
  return f;
}
inline void cli() { asm volatile("cli" : : : "memory"); }
inline void pause() { asm volatile("pause"); }
[[noreturn]] inline void halt_forever() {
  for (;;) asm volatile("cli; hlt");
}
inline void invlpg(uintptr_t va) { asm volatile("invlpg (%0)" : : "r"(va) : "memory"); }

inline constexpr uint32_t kMsrEfer = 0xC0000080;
inline constexpr uint64_t kEferNxe = uint64_t{1} << 11;
inline constexpr uint64_t kCr0Wp = uint64_t{1} << 16;
inline constexpr uint64_t kRflagsIf = uint64_t{1} << 9;

// CPUID feature bits the kernel asks about.
inline bool has_1gib_pages() { return (cpuid(0x80000001).edx >> 26) & 1; }
inline bool has_nx() { return (cpuid(0x80000001).edx >> 20) & 1; }

}  // namespace pf::arch
