// callgrind.hpp — the instruction-count mode; see callgrind.cpp.
#pragma once

#include <string>

namespace pf::bench {

// Under valgrind --tool=callgrind: runs the selected cases, one counter dump
// each. Returns 0 when every case ran.
int run_callgrind_cases();
// Natively, afterwards: reads the dumps `<dir>/<prefix>.N` and reports
// instructions per operation (results.md/results.svg in `dir`).
int report_callgrind(const std::string& dir, const std::string& prefix);

}  // namespace pf::bench
