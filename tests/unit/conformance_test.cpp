// conformance_test.cpp — the GoogleTest runner for the conformance cases
// (tests/conformance/*_cases.cpp), one test per page case, each on a fresh
// 128 MiB machine (the size of the kernel's test VM) with a fixed seed.
//
// Runner rule, as in the kernel (kernel/selftest.cpp): a case fails on any
// failed PF_CHECK (file, line and seed are printed), on any pfalloc error it
// did not install its own handler for, and unless the free-frame count with
// the per-CPU caches drained is what it was before the case and verify() is
// clean afterwards. Slab cases (needs_slab) run in kmalloc_test.cpp
// (SlabConformance), which owns the slab fixture.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "tests/conformance/facade.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"

namespace pf {
namespace {

constexpr uint64_t kSeedBase = 0x5eed0000;

std::vector<size_t> page_cases() {
  std::vector<size_t> v;
  for (size_t i = 0; i < conformance::case_count(); ++i)
    if (!conformance::case_at(i).needs_slab) v.push_back(i);
  return v;
}

struct Unexpected {
  uint64_t seed;
  const char* name;
};

class PageConformance : public ::testing::TestWithParam<size_t> {};

TEST_P(PageConformance, Case) {
  const conformance::Case& c = conformance::case_at(GetParam());
  const uint64_t seed = kSeedBase + GetParam();
  SCOPED_TRACE(std::string(c.name) + ", seed " + std::to_string(seed));
  auto m = test::Machine::with_ram(128 * MiB, 4);
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  pages.drain_cpu_caches();
  const uint64_t before = pages.counters().free_frames;

  conformance::Context ctx{pages, nullptr, seed, c.name};
  ctx.on_failure = [](const conformance::Context& cx, const char* expr, const char* file, int line) {
    ADD_FAILURE_AT(file, line) << cx.case_name << ": PF_CHECK(" << expr << ") failed (seed " << cx.seed << ")";
  };
  Unexpected unexpected{seed, c.name};
  const ErrorHandlerSlot old = set_error_handler(
      [](const ErrorReport& r, void* u) {
        const auto* x = static_cast<const Unexpected*>(u);
        ADD_FAILURE() << x->name << ": unexpected error " << (r.message ? r.message : error_name(r.code))
                      << " (seed " << x->seed << ")";
      },
      &unexpected);
  c.fn(ctx);
  set_error_handler(old.handler, old.context);

  EXPECT_EQ(ctx.failures, 0u) << c.name << " (seed " << seed << ")";
  EXPECT_GT(ctx.checks, 0u) << "a case that checks nothing cannot fail";
  pages.drain_cpu_caches();
  EXPECT_EQ(pages.counters().free_frames, before) << "free frames after the case (seed " << seed << ")";
  EXPECT_TRUE(test::Verified(pages));
}

INSTANTIATE_TEST_SUITE_P(Cases, PageConformance, ::testing::ValuesIn(page_cases()),
                         [](const ::testing::TestParamInfo<size_t>& info) {
                           return std::string(conformance::case_at(info.param).name);
                         });

}  // namespace
}  // namespace pf
