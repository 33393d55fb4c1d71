// hosted_memory_test.cpp — the hosted window stands in for a direct map: its
// offset is a multiple of the largest block, so physical alignment is virtual
// alignment (kmalloc_aligned above a page and the page tests rely on it; mmap
// alone promises a page, and CApiArgs.SlabCallArguments failed about one run
// in ten when the kernel happened to place the window off a 8 KiB boundary).
#include <gtest/gtest.h>

#include <cstring>

#include "hosted/hosted.hpp"

namespace pf {
namespace {

TEST(HostedMemory, OffsetIsAMultipleOfTheLargestBlockWhateverTheLowEnd) {
  constexpr uint64_t kAlign = kPageSize << kMaxOrder;
  for (uint64_t low : {uint64_t{0}, uint64_t{4096}, uint64_t{1} << 20, (uint64_t{3} << 30) + 12288,
                       uint64_t{5} * kAlign - 4096}) {
    for (int i = 0; i < 8; ++i) {  // several mappings: mmap places each its own way
      hosted::HostedMemory m;
      const uint64_t bytes = (i + 1) * 3 * 4096 + kAlign;
      ASSERT_TRUE(m.reserve(PhysAddr{low}, PhysAddr{low + bytes}));
      EXPECT_EQ(m.direct_map_offset() % kAlign, 0u) << "low " << low << " size " << bytes;
      // Both ends of the window are there.
      std::memset(m.to_virt<char>(PhysAddr{low}), 1, 4096);
      std::memset(m.to_virt<char>(PhysAddr{low + bytes - 4096}), 2, 4096);
      EXPECT_EQ(*m.to_virt<char>(PhysAddr{low + bytes - 1}), 2);
    }
  }
}

}  // namespace
}  // namespace pf
