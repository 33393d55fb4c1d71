// runtime.hpp — the freestanding C++ runtime's one entry point the kernel
// calls: running the global constructors (.init_array) before anything that
// depends on them (the conformance registry fills itself this way).
#pragma once

#include <cstddef>

namespace pf::rt {

// Runs every .init_array entry once, in link order; returns how many ran.
size_t run_global_constructors();

}  // namespace pf::rt
