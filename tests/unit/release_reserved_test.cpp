// release_reserved_test.cpp — memory handed back: PageAllocator::release_reserved(type)
// and pf_release_reserved() return each reclaimable class (bootloader-
// reclaimable, ACPI-reclaimable) to the buddy once, exactly, merged with
// its neighbours; every other type is refused by name. Also the whole path a
// kernel takes: an EFI memory map and Multiboot2 boot information, parsed,
// tagged, managed as reserved, then handed back.
// Each test checks verify() after every step.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "kernel/boot/multiboot.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::ErrorRecorder;
using test::LeaveAsFound;
using test::Machine;
using test::Verified;
using namespace test::region_letters;

uint32_t desc_owner(const PageAllocator& pages, uint64_t phys) {
  const FrameDescriptor* d = pages.descriptor(to_pfn(PhysAddr{phys}));
  EXPECT_NE(d, nullptr) << std::hex << phys;
  EXPECT_EQ(d ? frame_state(*d) : FrameState::Tail, FrameState::Reserved) << std::hex << phys;
  return d ? d->owner : ~0u;
}

bool inside(PhysAddr p, uint64_t base, uint64_t bytes) { return p.value >= base && p.value < base + bytes; }

// Every frame the allocator will hand out right now, one at a time (then freed).
std::vector<PhysAddr> every_free_frame(PageAllocator& pages) {
  std::vector<PhysAddr> held;
  for (PhysAddr p; !(p = pages.alloc_pages(Order{0}, __GFP_NOWARN)).is_null();) held.push_back(p);
  for (PhysAddr p : held) pages.free_pages(p, Order{0});
  pages.drain_cpu_caches();
  return held;
}

// [16, 32) MiB usable, [32, 36) MiB loader data, [36, 48) MiB usable with a
// 3-frame boot-info overlay at 40 MiB, [48, 48.5) MiB ACPI tables, [48.5, 64)
// MiB usable, then ACPI NVS: one range, one zone (DMA32).
constexpr uint64_t kLoader = 32 * MiB, kLoaderBytes = 4 * MiB;
constexpr uint64_t kBootInfo = 40 * MiB, kBootInfoBytes = 3 * kPageSize - 100;
constexpr uint64_t kAcpi = 48 * MiB, kAcpiBytes = 512 * KiB;
constexpr uint64_t kLoaderFrames = kLoaderBytes / kPageSize + 3, kAcpiFrames = kAcpiBytes / kPageSize;

std::unique_ptr<Machine> reclaimable_machine() {
  const Region regions[] = {{16 * MiB, 16 * MiB, U},
                            {kLoader, kLoaderBytes, L},
                            {36 * MiB, 12 * MiB, U},
                            {kAcpi, kAcpiBytes, A},
                            {kAcpi + kAcpiBytes, 64 * MiB - kAcpi - kAcpiBytes, U},
                            {64 * MiB, 64 * KiB, N}};
  const Region reserved[] = {{kBootInfo, kBootInfoBytes, L}, {44 * MiB, 2 * kPageSize, K}};
  return std::make_unique<Machine>(regions, reserved);
}

TEST(ReleaseReserved, ReclaimableClassesAreManagedReservedAndTaggedByClass) {
  auto m = reclaimable_machine();
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  EXPECT_EQ(pages.range_count(), 2u) << "the kernel overlay splits the one span into two ranges";
  EXPECT_EQ(pages.reserved_frames(kReservedBootloaderReclaimable), kLoaderFrames);
  EXPECT_EQ(pages.reserved_frames(kReservedAcpiReclaimable), kAcpiFrames);
  EXPECT_EQ(pages.reserved_frames(kReservedByBootmem) << kPageShift, pages.bootmem_bytes());
  EXPECT_EQ(pages.counters().reserved_frames, kLoaderFrames + kAcpiFrames + (pages.bootmem_bytes() >> kPageShift));
  EXPECT_EQ(desc_owner(pages, kAcpi), kReservedAcpiReclaimable);
  EXPECT_EQ(desc_owner(pages, kBootInfo), kReservedBootloaderReclaimable);
  EXPECT_EQ(pages.descriptor(to_pfn(PhysAddr{64 * MiB})), nullptr) << "ACPI NVS is never managed";
  EXPECT_EQ(pages.descriptor(to_pfn(PhysAddr{44 * MiB})), nullptr) << "nor the kernel's own ranges";

  // Neither class is handed out before it is released.
  LeaveAsFound guard(pages);
  for (PhysAddr p : every_free_frame(pages)) {
    ASSERT_FALSE(inside(p, kLoader, kLoaderBytes) || inside(p, kBootInfo, kBootInfoBytes) ||
                 inside(p, kAcpi, kAcpiBytes))
        << std::hex << p.value;
  }
  ErrorRecorder rec;
  pages.free_pages(PhysAddr{kAcpi}, Order{0});
  EXPECT_EQ(rec.last_code(), ErrorCode::PageReserved);
}

TEST(ReleaseReserved, EachClassComesBackOnceExactlyAndMerges) {
  auto m = reclaimable_machine();
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  pages.drain_cpu_caches();
  const PageCounters start = pages.counters();
  const uint64_t top = pages.free_blocks(Zone::Dma32, Order{kMaxOrder});

  ErrorRecorder rec;  // nothing below may report
  EXPECT_EQ(pages.release_reserved(RegionType::BootloaderReclaimable), kLoaderFrames);
  PageCounters now = pages.counters();
  EXPECT_EQ(now.free_frames, start.free_frames + kLoaderFrames);
  EXPECT_EQ(now.managed_frames, start.managed_frames + kLoaderFrames);
  EXPECT_EQ(now.reserved_frames, start.reserved_frames - kLoaderFrames);
  EXPECT_EQ(pages.reserved_frames(kReservedBootloaderReclaimable), 0u);
  EXPECT_EQ(pages.reserved_frames(kReservedAcpiReclaimable), kAcpiFrames) << "the other class stays";
  // The 4 MiB of loader data merged into one top-order block, and the
  // boot-info frames completed the one at [40, 44) MiB around them.
  EXPECT_EQ(pages.free_blocks(Zone::Dma32, Order{kMaxOrder}), top + 2);
  ASSERT_TRUE(Verified(pages));
  EXPECT_EQ(pages.release_reserved(RegionType::BootloaderReclaimable), 0u) << "a second call finds none";

  EXPECT_EQ(pages.release_reserved(RegionType::AcpiReclaimable), kAcpiFrames);
  now = pages.counters();
  EXPECT_EQ(now.free_frames, start.free_frames + kLoaderFrames + kAcpiFrames);
  EXPECT_EQ(now.reserved_frames << kPageShift, pages.bootmem_bytes());
  EXPECT_EQ(pages.reserved_frames(kReservedAcpiReclaimable), 0u);
  ASSERT_TRUE(Verified(pages));
  EXPECT_EQ(pages.release_reserved(RegionType::AcpiReclaimable), 0u);
  EXPECT_EQ(rec.count(), 0u) << (rec.count() ? rec.last_message() : "");

  // Released frames are ordinary memory now: handed out, and freed again.
  LeaveAsFound guard(pages);
  uint64_t loader = 0, info = 0, acpi = 0;
  for (PhysAddr p : every_free_frame(pages)) {
    loader += inside(p, kLoader, kLoaderBytes);
    info += inside(p, kBootInfo, 3 * kPageSize);
    acpi += inside(p, kAcpi, kAcpiBytes);
  }
  EXPECT_EQ(loader, kLoaderBytes / kPageSize);
  EXPECT_EQ(info, 3u);
  EXPECT_EQ(acpi, kAcpiFrames);
}

TEST(ReleaseReserved, AllocationsInFlightAreUntouched) {
  auto m = reclaimable_machine();
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  std::vector<PhysAddr> held;
  for (unsigned i = 0; i < 64; ++i) held.push_back(pages.alloc_pages(Order{i % 4}, 0));
  EXPECT_EQ(pages.release_reserved(RegionType::AcpiReclaimable), kAcpiFrames);
  EXPECT_EQ(pages.release_reserved(RegionType::BootloaderReclaimable), kLoaderFrames);
  ASSERT_TRUE(Verified(pages));
  for (size_t i = 0; i < held.size(); ++i) {
    ASSERT_FALSE(held[i].is_null());
    pages.free_pages(held[i], Order{static_cast<unsigned>(i % 4)});
  }
  ASSERT_TRUE(Verified(pages));
}

TEST(ReleaseReserved, OtherTypesAreMisuseNamedAndChangeNothing) {
  auto m = reclaimable_machine();
  ASSERT_TRUE(m->ok());
  PageAllocator& pages = m->pages();
  pages.drain_cpu_caches();
  const test::PageSnapshot before = test::PageSnapshot::of(pages);
  ErrorRecorder rec;
  size_t expected_reports = 0;
  for (RegionType t : {U, R, N, B, K, static_cast<RegionType>(0), static_cast<RegionType>(99)}) {
    EXPECT_EQ(pages.release_reserved(t), 0u) << static_cast<int>(t);
    ASSERT_EQ(rec.count(), ++expected_reports);
    EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
    EXPECT_NE(rec.last_message().find("only bootloader-reclaimable and acpi-reclaimable"), std::string::npos)
        << rec.last_message();
  }
  test::expect_same(before, test::PageSnapshot::of(pages), "after refused releases");
  ASSERT_TRUE(Verified(pages));

  // The range form keeps its contract: bootloader-reclaimable frames only.
  EXPECT_EQ(pages.release_reserved(PhysAddr{kAcpi}, 4), 0u);
  EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument);
  EXPECT_EQ(pages.reserved_frames(kReservedAcpiReclaimable), kAcpiFrames);
  ASSERT_TRUE(Verified(pages));
}

// Larger than the chunk release_reserved scans under one lock hold (2^14
// frames), straddling chunk and zone boundaries: still exact, still merged.
TEST(ReleaseReserved, LargeClassesAcrossChunksAndZones) {
  const Region regions[] = {{1 * MiB, 7 * MiB, U},
                            {8 * MiB, 200 * MiB - 4 * KiB, L},  // crosses 16 MiB (DMA | DMA32)
                            {208 * MiB - 4 * KiB, 48 * MiB + 4 * KiB, U}};
  Machine m(regions, {});
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t frames = (200 * MiB - 4 * KiB) / kPageSize;
  EXPECT_EQ(pages.reserved_frames(kReservedBootloaderReclaimable), frames);
  pages.drain_cpu_caches();
  const uint64_t free_before = pages.counters().free_frames;
  EXPECT_EQ(pages.release_reserved(RegionType::BootloaderReclaimable), frames);
  EXPECT_EQ(pages.counters().free_frames, free_before + frames);
  ASSERT_TRUE(Verified(pages)) << "buddies across chunk edges merged (verify checks it)";
  EXPECT_EQ(pages.release_reserved(RegionType::BootloaderReclaimable), 0u);
}

// The path a kernel takes when a loader passes only the EFI memory map:
// EfiLoaderCode/Data and the boot information come back; the module and the
// kernel image stay; ACPI tables come back on their own call.
TEST(ReleaseReserved, EfiMapLoaderMemoryAndBootInfoComeBack) {
  // Multiboot2 info at 3 MiB with a command line, a module at 5 MiB and an
  // EFI map: conventional [1, 4) MiB, loader data [4, 8) MiB, conventional
  // [8, 32) MiB, loader code [32, 33) MiB, ACPI reclaim [33, 33.25) MiB.
  constexpr uint64_t kInfoAt = 3 * MiB;
  std::vector<unsigned char> mem(8 * MiB, 0);
  auto put32 = [](std::vector<unsigned char>& b, uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<unsigned char>(v >> (8 * i)));
  };
  auto put64 = [&](std::vector<unsigned char>& b, uint64_t v) {
    put32(b, static_cast<uint32_t>(v));
    put32(b, static_cast<uint32_t>(v >> 32));
  };
  auto align8 = [](std::vector<unsigned char>& b) { b.resize((b.size() + 7) & ~size_t{7}, 0); };
  std::vector<unsigned char> info;
  put32(info, 0);
  put32(info, 0);
  put32(info, 1);  // command line tag
  put32(info, 8 + 5);
  for (char c : std::string("test")) info.push_back(static_cast<unsigned char>(c));
  info.push_back(0);
  align8(info);
  put32(info, 3);  // module tag: [5 MiB, 5 MiB + 9000)
  put32(info, 8 + 8 + 1);
  put32(info, 5 * MiB);
  put32(info, 5 * MiB + 9000);
  info.push_back(0);
  align8(info);
  const struct {
    uint32_t type;
    uint64_t base, pages;
  } efi[] = {{7, 1 * MiB, 768}, {2, 4 * MiB, 1024}, {7, 8 * MiB, 6144}, {1, 32 * MiB, 256}, {9, 33 * MiB, 64}};
  const size_t efi_at = info.size();
  put32(info, 17);
  put32(info, 0);
  put32(info, 40);  // descriptor size
  put32(info, 1);
  for (const auto& d : efi) {
    put32(info, d.type);
    put32(info, 0);
    put64(info, d.base);
    put64(info, 0);
    put64(info, d.pages);
    put64(info, 0xf);
  }
  const uint32_t efi_size = static_cast<uint32_t>(info.size() - efi_at);
  for (int i = 0; i < 4; ++i) info[efi_at + 4 + i] = static_cast<unsigned char>(efi_size >> (8 * i));
  align8(info);
  put32(info, 0);  // end tag
  put32(info, 8);
  for (int i = 0; i < 4; ++i) info[i] = static_cast<unsigned char>(info.size() >> (8 * i));
  std::copy(info.begin(), info.end(), mem.begin() + kInfoAt);

  auto map = std::make_unique<MemoryMap>();
  boot::BootInfo bi;
  const char* error = nullptr;
  ASSERT_TRUE(boot::parse_multiboot2(kInfoAt, PhysMap{reinterpret_cast<uintptr_t>(mem.data())}, bi, *map, &error))
      << error;
  // The kernel image, as main.cpp reserves it.
  const Region image{2 * MiB, 512 * KiB, K};
  std::vector<Region> raw(map->raw().begin(), map->raw().end());
  std::vector<Region> reserved(map->reserved().begin(), map->reserved().end());
  reserved.push_back(image);
  Machine m(raw, reserved);
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  const uint64_t info_frames = (info.size() + kPageSize - 1) / kPageSize;
  // The module was loaded into loader data (as GRUB does on UEFI): its 3
  // frames stay the kernel's, the rest of the loader's memory comes back.
  const uint64_t loader_frames = 1024 - 3 + 256;
  EXPECT_EQ(pages.reserved_frames(kReservedBootloaderReclaimable), loader_frames + info_frames);
  EXPECT_EQ(pages.reserved_frames(kReservedAcpiReclaimable), 64u);

  pages.drain_cpu_caches();
  const uint64_t free_before = pages.counters().free_frames;
  ErrorRecorder rec;
  EXPECT_EQ(pages.release_reserved(RegionType::BootloaderReclaimable), loader_frames + info_frames);
  EXPECT_EQ(pages.release_reserved(RegionType::AcpiReclaimable), 64u);
  EXPECT_EQ(pages.counters().free_frames, free_before + loader_frames + info_frames + 64);
  EXPECT_EQ(rec.count(), 0u);
  ASSERT_TRUE(Verified(pages));
  // The module (3 frames) and the image (128 frames) were never managed.
  EXPECT_EQ(pages.descriptor(to_pfn(PhysAddr{5 * MiB})), nullptr);
  EXPECT_EQ(pages.descriptor(to_pfn(PhysAddr{2 * MiB})), nullptr);
  EXPECT_STREQ(bi.cmdline, "test");
}

}  // namespace
}  // namespace pf
