// facade.hpp — the tiny test facade that lets one conformance case run both
// under GoogleTest (tests/unit/conformance_test.cpp) and inside the booted
// kernel (kernel/selftest.cpp). Freestanding: no gtest, no libc.
//
// A case gets a Context with the allocator(s) under test and a seed; it
// reports failures through PF_CHECK, which records file, line and the
// expression and lets the case go on (return early where continuing would
// crash). The runner, not the case, checks the rule every case must keep:
// the free-frame count after the case (per-CPU caches drained) equals the
// count before it, and verify() is clean.
//
// Registration is static: PF_CONFORMANCE_CASE(name) { ... } adds the case to a
// fixed table through a global constructor (the kernel runs .init_array).
#pragma once

#include <cstddef>
#include <cstdint>

namespace pf {
class PageAllocator;
class SlabAllocator;
}  // namespace pf

namespace pf::conformance {

struct Context {
  PageAllocator& pages;
  SlabAllocator* slab;  // nullptr where the slab layer is not part of the run
  uint64_t seed;
  const char* case_name = "";
  unsigned checks = 0;
  unsigned failures = 0;
  // Called on the first failures; the runner supplies it (gtest or serial).
  void (*on_failure)(const Context&, const char* expr, const char* file, int line) = nullptr;

  bool check(bool ok, const char* expr, const char* file, int line) {
    ++checks;
    if (!ok) {
      ++failures;
      if (on_failure != nullptr) on_failure(*this, expr, file, line);
    }
    return ok;
  }
};

using CaseFn = void (*)(Context&);
struct Case {
  const char* name;
  CaseFn fn;
  bool needs_slab;
};

inline constexpr size_t kMaxCases = 128;
// The registered cases, in registration order.
size_t case_count();
const Case& case_at(size_t i);
bool register_case(const char* name, CaseFn fn, bool needs_slab);

// A small deterministic PRNG (splitmix64) so the cases need no libc.
struct Rng {
  uint64_t state;
  explicit Rng(uint64_t seed) : state(seed) {}
  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
};

}  // namespace pf::conformance

#define PF_CHECK(ctx, cond) (ctx).check(static_cast<bool>(cond), #cond, __FILE__, __LINE__)

#define PF_CONFORMANCE_CASE_IMPL(name, needs_slab)                                 \
  static void pf_case_##name(::pf::conformance::Context& ctx);                      \
  [[maybe_unused]] static const bool pf_case_registered_##name =                    \
      ::pf::conformance::register_case(#name, &pf_case_##name, needs_slab);         \
  static void pf_case_##name(::pf::conformance::Context& ctx)

// Page-allocator cases, and cases that also need the slab layer.
#define PF_CONFORMANCE_CASE(name) PF_CONFORMANCE_CASE_IMPL(name, false)
#define PF_SLAB_CONFORMANCE_CASE(name) PF_CONFORMANCE_CASE_IMPL(name, true)
