// object_start_test.cpp — the one-compare object-start test of the free
// fast path (slab_detail::starts_object, Slab::starts): offset * m mod 2^64
// < objects * e, with m = floor(2^64 / stride) + 1 and e = m * stride - 2^64,
// must say "the start of one of the slab's objects" exactly, for every
// 32-bit offset a free can present (below the slab, in its colour, inside
// an object, in the tail past the last object, wrapped below 2^32), and the
// allocator must refuse every such pointer but the object starts.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <vector>

#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

// The bytes of the largest slab (kPageSize << kMaxSlabOrder).
constexpr uint64_t kLargestSlab = kPageSize << kMaxSlabOrder;

// Every offset in [0, 2 * kLargestSlab) and in [2^32 - kLargestSlab, 2^32)
// against offset % stride == 0 && offset / stride < objects, for strides of
// every kind (powers of two, whose excess is the stride itself; odd
// multiples of 8; the kmalloc classes; the largest) and object counts from
// one to the most a slab of that stride holds.
TEST(ObjectStart, OneCompareIsExactForEveryOffset) {
  std::vector<uint32_t> strides = {8, 16, 24, 40, 56, 64, 72, 200, 1000, 3000, 4096, 5000, 12288, 65536};
  for (uint32_t s : kKmallocSizes) strides.push_back(s);
  for (uint32_t stride : strides) {
    SCOPED_TRACE(stride);
    const uint64_t m = slab_detail::stride_magic_for(stride);
    const uint64_t e = m * stride;  // mod 2^64
    ASSERT_GE(e, 1u);
    ASSERT_LE(e, stride);
    // m is floor(2^64 / stride) + 1.
    ASSERT_EQ(m - 1, static_cast<uint64_t>((static_cast<unsigned __int128>(1) << 64) / stride));
    const uint64_t most = std::min<uint64_t>(kLargestSlab / stride, kMaxObjectsPerSlab);
    for (uint64_t objects : {uint64_t{1}, most / 2 + 1, most}) {
      if (objects == 0) continue;
      const auto starts = static_cast<uint32_t>(objects * e);
      auto check = [&](uint64_t offset) {
        const bool want = offset % stride == 0 && offset / stride < objects;
        if (slab_detail::starts_object(m, starts, static_cast<uint32_t>(offset)) != want)
          ADD_FAILURE() << "stride " << stride << " objects " << objects << " offset " << offset;
      };
      for (uint64_t off = 0; off < 2 * kLargestSlab; ++off) check(off);
      for (uint64_t off = (uint64_t{1} << 32) - kLargestSlab; off < (uint64_t{1} << 32); ++off) check(off);
      if (HasFailure()) return;
    }
  }
}

using ObjectStartSlab = test::SlabFixture;

// A real slab, byte by byte: cache_of names the cache at the object starts
// only, and a free of the first would-be start past the last object (in
// the slab's tail, inside its block: the bound the one compare enforces)
// is refused as slab-not-object-start by kfree and kmem_cache_free alike.
TEST_F(ObjectStartSlab, EveryByteOfFullSlabs) {
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  for (size_t size : {size_t{64}, size_t{200}, size_t{1000}, size_t{3000}, size_t{4096}}) {
    SCOPED_TRACE(size);
    KmemCache* c = slab_.cache_create("object-start", size, 0, 0, nullptr);
    ASSERT_NE(c, nullptr);
    const uint64_t block = kPageSize << c->slab_order();
    const size_t per_slab = c->objects_per_slab();
    std::vector<void*> objs;
    for (size_t i = 0; i < 3 * per_slab + 8; ++i) {
      void* p = slab_.cache_alloc(c, GFP_KERNEL);
      ASSERT_NE(p, nullptr);
      objs.push_back(p);
    }
    // The blocks whose every object we hold (the others have objects in
    // the per-CPU array or on the freelist: starts we do not know).
    std::map<uintptr_t, std::vector<uintptr_t>> by_block;
    for (void* p : objs) {
      const auto a = reinterpret_cast<uintptr_t>(p);
      by_block[a & ~(block - 1)].push_back(a);
    }
    size_t full = 0;
    for (auto& [base, members] : by_block) {
      if (members.size() != per_slab) continue;
      ++full;
      std::sort(members.begin(), members.end());
      for (uintptr_t q = base; q < base + block; ++q) {
        const bool start = std::binary_search(members.begin(), members.end(), q);
        if ((slab_.cache_of(reinterpret_cast<void*>(q)) == c) != start) {
          ADD_FAILURE() << "cache_of at block offset " << q - base << (start ? " missed" : " accepted");
          break;
        }
      }
      const uintptr_t tail = members.back() + c->stride();
      if (tail < base + block) {
        auto code_of = [&](auto&& call) {
          rec.clear();
          call();
          return rec.count() == 1 ? rec.last_code() : ErrorCode::Count;
        };
        auto* t = reinterpret_cast<void*>(tail);
        EXPECT_EQ(code_of([&] { slab_.cache_free(c, t); }), ErrorCode::SlabNotObjectStart);
        EXPECT_EQ(code_of([&] { slab_.kfree(t); }), ErrorCode::SlabNotObjectStart);
      }
    }
    EXPECT_GE(full, 1u);
    rec.clear();
    for (void* p : objs) slab_.cache_free(c, p);
    EXPECT_EQ(rec.count(), 0u);
    EXPECT_EQ(slab_.cache_destroy(c), 0u);
  }
}

}  // namespace
}  // namespace pf
