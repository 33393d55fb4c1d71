// registry.cpp — the fixed table behind PF_CONFORMANCE_CASE. See facade.hpp.
#include "facade.hpp"

namespace pf::conformance {

namespace {
// Constant-initialised so registration order among global constructors
// cannot matter.
Case g_cases[kMaxCases];
size_t g_count = 0;
}  // namespace

size_t case_count() { return g_count; }
const Case& case_at(size_t i) { return g_cases[i]; }

bool register_case(const char* name, CaseFn fn, bool needs_slab) {
  if (g_count == kMaxCases) return false;
  g_cases[g_count++] = Case{name, fn, needs_slab};
  return true;
}

}  // namespace pf::conformance
