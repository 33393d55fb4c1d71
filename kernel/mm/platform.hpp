// platform.hpp — the seam between the core and the build it is compiled into.
//
// The core calls only what is named here. The definitions live once per
// build: kernel/arch/x86_64/platform.cpp for the kernel, hosted/platform.cpp
// for Linux; they are bound at link time, so the core has no #ifdefs. The C
// names (pfalloc_hook_*) are what an embedding kernel implements; this file
// only gives them C++ spellings. Physical-to-virtual is not a call: it is the
// direct-map offset each allocator instance is given (see PhysMap).
#pragma once

// The hooks on the fast paths (irq_save, irq_restore, cpu_id) come from
// <pfalloc_hooks.hpp>, a header each build picks by its include path: inline
// in the project's builds (hosted/hooks, kernel/arch/x86_64/hooks), calls to
// the C hooks for an embedder who adds nothing (kernel/mm/hooks).
#include <pfalloc_hooks.hpp>

#include "pfalloc.h"
#include "types.hpp"

namespace pf::platform {

inline void cpu_relax() { pfalloc_hook_cpu_relax(); }
inline void sync_cpus() { pfalloc_hook_sync_cpus(); }
[[noreturn]] inline void fatal(const char* msg) { pfalloc_hook_fatal(msg); }
inline void log(const char* text, size_t n) { pfalloc_hook_log(text, n); }

}  // namespace pf::platform

namespace pf {

// How one allocator instance reaches physical memory: the direct map.
// Invariant: to_virt(to_phys(v)) == v for every v inside the window.
struct PhysMap {
  uintptr_t offset = 0;
  template <typename T = std::byte>
  T* to_virt(PhysAddr p) const { return reinterpret_cast<T*>(p.value + offset); }
  PhysAddr to_phys(const void* v) const {
    return PhysAddr{reinterpret_cast<uintptr_t>(v) - offset};
  }
};

}  // namespace pf
