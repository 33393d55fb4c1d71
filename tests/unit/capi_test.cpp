// capi_test.cpp — the C API of pfalloc.h over the global instances, set up
// once per process by pf_init() on a hosted window, as an embedding kernel
// would do it from its firmware map.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/global.hpp"
#include "kernel/mm/pfalloc.h"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

// QEMU-like map: low RAM, a hole, 64 MiB of RAM from 1 MiB, then 1 MiB the
// loader used and 256 KiB of ACPI tables; the kernel image sits at 2 MiB.
const pf_region kMap[] = {
    {0x0, 0x9fc00, PF_REGION_USABLE},
    {0x9fc00, 0x400, PF_REGION_RESERVED},
    {0xf0000, 0x10000, PF_REGION_RESERVED},
    {0x100000, 64 * MiB, PF_REGION_USABLE},
    {65 * MiB, 1 * MiB, PF_REGION_BOOTLOADER_RECLAIMABLE},
    {66 * MiB, 256 * KiB, PF_REGION_ACPI_RECLAIMABLE},
};
constexpr size_t kMapCount = sizeof kMap / sizeof kMap[0];
constexpr uint64_t kLoaderFrames = 256, kAcpiFrames = 64;
const pf_region kKernelImage[] = {{2 * MiB, 3 * MiB + 123, PF_REGION_KERNEL}};

class CApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    static hosted::HostedMemory memory;
    if (memory.direct_map_offset() != 0) return;  // once per process
    ASSERT_TRUE(memory.reserve(PhysAddr{0}, PhysAddr{67 * MiB}));
    pf_config config{};
    config.direct_map_offset = memory.direct_map_offset();
    offset_ = memory.direct_map_offset();
    config.cpu_count = 2;
    ASSERT_EQ(pf_init(&config, kMap, kMapCount, kKernelImage, 1), PF_OK);
  }
  void SetUp() override {
    pf_reclaim();
    pf_get_counters(&before_);
    ASSERT_EQ(pf_verify(), 0);
  }
  void TearDown() override {
    pf_reclaim();
    pf_counters after{};
    pf_get_counters(&after);
    EXPECT_EQ(after.free_frames, before_.free_frames);
    EXPECT_EQ(pf_verify(), 0);
  }
  static void* virt(pf_phys_t p) { return reinterpret_cast<void*>(p + offset_); }
  pf_counters before_{};
  static inline uintptr_t offset_ = 0;
};

TEST_F(CApi, InitTookTheMapAndKeptTheKernelOut) {
  // 64 MiB from 1 MiB, less the kernel image's whole frames (3 MiB + 123 B
  // widened to 769 frames), plus the reclaimable classes (reserved until
  // released, then managed).
  EXPECT_EQ(before_.managed_frames + before_.reserved_frames,
            64 * MiB / kPageSize - 769 + kLoaderFrames + kAcpiFrames);
  EXPECT_GT(before_.reserved_frames, 0u);
  // The slab layer already holds the first slabs of its kmalloc caches.
  EXPECT_LT(before_.free_frames, before_.managed_frames);
  EXPECT_GT(before_.free_frames, before_.managed_frames - 64);
  pf_config again{};
  EXPECT_EQ(pf_init(&again, kMap, 4, nullptr, 0), PF_ERR_BAD_CONFIG);
}

TEST_F(CApi, PagesAreAlignedInsideTheMapAndFreed) {
  for (unsigned order = 0; order <= 10; ++order) {
    pf_phys_t p = alloc_pages(order, GFP_KERNEL);
    ASSERT_NE(p, 0u) << "order " << order;
    EXPECT_EQ(p % (kPageSize << order), 0u);
    EXPECT_GE(p, 1 * MiB);
    EXPECT_TRUE(p + (kPageSize << order) <= 2 * MiB || p >= 5 * MiB + kPageSize)
        << "block at " << std::hex << p << " overlaps the kernel image";
    free_pages(p, order);
  }
  pf_phys_t z = alloc_pages(0, GFP_DMA | __GFP_ZERO);
  ASSERT_NE(z, 0u);
  EXPECT_LT(z, 16 * MiB);
  free_pages(z, 0);
}

// Allocating above the largest order is a null result with a warning (as
// Linux), silent under __GFP_NOWARN; freeing with such an order is misuse.
TEST_F(CApi, OrdersBeyondTheLargestAreNullNotWrapped) {
  test::ErrorRecorder rec;
  test::LogCapture log;
  const uint64_t warned = warning_count();
  EXPECT_EQ(alloc_pages(11, GFP_KERNEL), 0u);
  EXPECT_EQ(alloc_pages(256 + 3, GFP_KERNEL), 0u);  // would be order 3 if truncated
  EXPECT_EQ(warning_count(), warned + 2);
  EXPECT_NE(log.text().find("warning: page-order-out-of-range"), std::string::npos) << log.text();
  EXPECT_EQ(alloc_pages(40, GFP_KERNEL | __GFP_NOWARN), 0u);
  EXPECT_EQ(warning_count(), warned + 2);
  EXPECT_EQ(rec.count(), 0u);
  const pf_phys_t p = alloc_pages(0, GFP_KERNEL);
  free_pages(p, 11);
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last().code, ErrorCode::PageBadOrder);
  free_pages(p, 0);
}

TEST_F(CApi, ContigHonoursAlignmentAndBoundary) {
  pf_phys_t p = alloc_contig(5, 64 * KiB, 64 * KiB, 16 * MiB, GFP_KERNEL);
  ASSERT_NE(p, 0u);
  EXPECT_EQ(p % (64 * KiB), 0u);
  EXPECT_EQ(p / (64 * KiB), (p + 5 * kPageSize - 1) / (64 * KiB));
  EXPECT_LE(p + 5 * kPageSize, 16 * MiB);
  free_contig(p, 5);
}

TEST_F(CApi, KmallocFamily) {
  char* s = static_cast<char*>(kmalloc(32, GFP_KERNEL));
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(s) % 32, 0u);
  EXPECT_GE(ksize(s), 32u);
  std::memcpy(s, "pfalloc", 8);
  char* t = static_cast<char*>(krealloc(s, 200, GFP_KERNEL));
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(t, "pfalloc");
  kfree(t);
  kfree(nullptr);
  EXPECT_EQ(kcalloc(SIZE_MAX / 2, 4, GFP_KERNEL), nullptr);
  auto* z = static_cast<unsigned char*>(kzalloc(3000, GFP_KERNEL));
  ASSERT_NE(z, nullptr);
  for (int i = 0; i < 3000; ++i) ASSERT_EQ(z[i], 0) << i;
  kfree(z);
  void* big = kmalloc(100 * KiB, GFP_KERNEL);
  ASSERT_NE(big, nullptr);
  kfree(big);
}

TEST_F(CApi, KfreeSizedFreesAndRefusesATooLargeSize) {
  for (size_t size : {size_t{1}, size_t{40}, size_t{700}, size_t{8192}, size_t{20000}}) {
    void* p = kmalloc(size, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    kfree_sized(p, size);
  }
  kfree_sized(nullptr, 64);
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  void* p = kmalloc(40, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  kfree_sized(p, 4000);  // refused: still live
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last().code, ErrorCode::SlabWrongSize);
  EXPECT_NE(rec.last().caller, nullptr);
  kfree_sized(p, 33);  // a size of its class
  EXPECT_EQ(rec.count(), 1u);
  kfree_sized(p, 40);
  ASSERT_EQ(rec.count(), 2u);
  EXPECT_EQ(rec.last().code, ErrorCode::SlabDoubleFree);
}

TEST_F(CApi, CachesKeepConstructedObjects) {
  static int constructed = 0;
  kmem_cache* c = kmem_cache_create("capi_test", 48, 16, 0, [](void* p) {
    ++constructed;
    std::memset(p, 0xab, 48);
  });
  ASSERT_NE(c, nullptr);
  auto* o = static_cast<unsigned char*>(kmem_cache_alloc(c, GFP_KERNEL));
  ASSERT_NE(o, nullptr);
  EXPECT_EQ(o[47], 0xab);
  EXPECT_GT(constructed, 0);
  kmem_cache_free(c, o);
  EXPECT_EQ(kmem_cache_destroy(c), 0u);
}

TEST_F(CApi, ReportsNameTheCallerAndRefuse) {
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  pf_phys_t p = alloc_pages(1, GFP_KERNEL);
  ASSERT_NE(p, 0u);
  free_pages(p, 0);  // wrong order: refused, the block stays allocated
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last().code, ErrorCode::PageWrongOrder);
  EXPECT_NE(rec.last().caller, nullptr);
  free_pages(p, 1);
  EXPECT_EQ(rec.count(), 1u);
}

// A cache handle that is no live cache: destroyed already (its record
// still in its slab, or that slab given back by pf_reclaim), a kmalloc
// object, a plain page, a stack buffer, the inside of a live record. Every
// call that takes a handle refuses it by name and changes nothing (before
// the fix, a second kmem_cache_destroy crashed or corrupted, and
// kmem_cache_alloc of a destroyed cache never returned). Null arrays in the
// bulk calls and a count an int cannot carry are refused alike.
TEST_F(CApi, StaleAndForeignCacheHandlesAreRefusedByName) {
  test::ErrorRecorder rec;
  struct kmem_cache* live = kmem_cache_create("capi-live", 64, 0, 0, nullptr);
  ASSERT_NE(live, nullptr);
  void* obj = kmem_cache_alloc(live, GFP_KERNEL);
  ASSERT_NE(obj, nullptr);
  struct kmem_cache* dead = kmem_cache_create("capi-dead", 64, 0, 0, nullptr);
  ASSERT_NE(dead, nullptr);
  ASSERT_EQ(kmem_cache_destroy(dead), 0u);
  struct kmem_cache* dead_reclaimed = kmem_cache_create("capi-dead2", 96, 0, 0, nullptr);
  ASSERT_NE(dead_reclaimed, nullptr);
  ASSERT_EQ(kmem_cache_destroy(dead_reclaimed), 0u);
  void* kobj = kzalloc(512, GFP_KERNEL);
  ASSERT_NE(kobj, nullptr);
  pf_phys_t page = alloc_pages(0, GFP_KERNEL | __GFP_ZERO);
  ASSERT_NE(page, 0u);
  alignas(64) static unsigned char stack_like[1024];
  auto* interior = reinterpret_cast<struct kmem_cache*>(reinterpret_cast<char*>(live) + 64);
  ASSERT_EQ(rec.count(), 0u);
  pf_reclaim();  // dead's record may now be in a slab given back, or not
  pf_counters mid{};
  pf_get_counters(&mid);

  const std::vector<struct kmem_cache*> bad = {
      dead, dead_reclaimed, reinterpret_cast<struct kmem_cache*>(kobj),
      reinterpret_cast<struct kmem_cache*>(obj),  // an object of `live`
      reinterpret_cast<struct kmem_cache*>(stack_like), interior};
  for (size_t i = 0; i < bad.size(); ++i) {
    struct kmem_cache* h = bad[i];
    // Each call: exactly one report, invalid-argument.
    auto refused = [&](const char* what) {
      EXPECT_EQ(rec.count(), 1u) << what << " with handle " << i;
      EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument) << what << " with handle " << i;
      rec.clear();
    };
    rec.clear();
    EXPECT_EQ(kmem_cache_destroy(h), 0u) << i;
    refused("kmem_cache_destroy");
    EXPECT_EQ(kmem_cache_shrink(h), 0u) << i;
    refused("kmem_cache_shrink");
    void* objs[4] = {obj, nullptr, nullptr, nullptr};
    kmem_cache_free_bulk(h, 1, objs);
    refused("kmem_cache_free_bulk");
    EXPECT_EQ(kmem_cache_alloc_bulk(h, GFP_KERNEL, 4, objs), 0) << i;
    refused("kmem_cache_alloc_bulk");
    kmem_cache_free(h, obj);
    refused("kmem_cache_free");
    // kmem_cache_alloc reads the handle on its fast path: only handles
    // that were caches (their fast view off) reach the check.
    if (h == dead || h == dead_reclaimed) {
      EXPECT_EQ(kmem_cache_alloc(h, GFP_KERNEL), nullptr) << i;
      refused("kmem_cache_alloc");
    }
    EXPECT_EQ(pf_verify(), 0) << i;
  }
  rec.clear();
  EXPECT_EQ(kmem_cache_alloc_bulk(live, GFP_KERNEL, 4, nullptr), 0);
  kmem_cache_free_bulk(live, 4, nullptr);
  pf_phys_t* no_pages = nullptr;
  EXPECT_EQ(alloc_pages_bulk(0, GFP_KERNEL, 4, no_pages), 0u);
  static void* few[4];
  EXPECT_EQ(kmem_cache_alloc_bulk(live, GFP_KERNEL, size_t{1} << 31, few), 0);
  EXPECT_EQ(rec.count(), 4u);
  pf_counters after{};
  pf_get_counters(&after);
  EXPECT_EQ(after.free_frames, mid.free_frames) << "a refused call moved frames";
  EXPECT_EQ(pf_verify(), 0);

  kmem_cache_free(live, obj);
  EXPECT_EQ(kmem_cache_destroy(live), 0u);
  kfree(kobj);
  free_pages(page, 0);
  EXPECT_EQ(rec.count(), 4u);
}

// A tester's sweep: every page of the address window (managed memory,
// the hole, reserved and loader frames, descriptor arrays, per-CPU array
// blocks, slab headers, kmem_cache records, free frames in the buddy and in
// per-CPU caches, pieces of live blocks) passed to every public free and
// lookup call. Each call on anything but a live object or block start the
// test holds is refused with exactly one named report, and when the sweep
// is done no frame has moved and verify() is clean.
TEST_F(CApi, EveryPageOfTheWindowIsRefusedByEveryFreeUnlessItIsLive) {
  test::ErrorRecorder rec;
  struct kmem_cache* ctor_cache = kmem_cache_create("sweep-ctor", 200, 0, 0, [](void*) {});
  struct kmem_cache* big_cache = kmem_cache_create("sweep-big", 3000, 0, 0, nullptr);
  ASSERT_NE(ctor_cache, nullptr);
  ASSERT_NE(big_cache, nullptr);
  std::vector<void*> live;
  for (int i = 0; i < 64; ++i) live.push_back(kmalloc(64, GFP_KERNEL));
  void* co = kmem_cache_alloc(ctor_cache, GFP_KERNEL);
  void* bo = kmem_cache_alloc(big_cache, GFP_KERNEL);
  void* large = kmalloc(20000, GFP_KERNEL);
  const pf_phys_t block = alloc_pages(2, GFP_KERNEL);
  const pf_phys_t contig = alloc_contig(5, 0, 0, 0, GFP_KERNEL);
  pf_phys_t cached[8];
  ASSERT_EQ(alloc_pages_bulk(0, GFP_KERNEL, 8, cached), 8u);
  for (pf_phys_t p : cached) free_pages(p, 0);  // in this CPU's page cache now
  ASSERT_NE(co, nullptr);
  ASSERT_NE(bo, nullptr);
  ASSERT_NE(large, nullptr);
  ASSERT_NE(block, 0u);
  ASSERT_NE(contig, 0u);
  for (void* p : live) ASSERT_NE(p, nullptr);
  live.push_back(co);
  live.push_back(bo);
  live.push_back(large);
  live.push_back(virt(block));
  live.push_back(virt(contig));
  ASSERT_EQ(rec.count(), 0u);
  pf_counters mid{};
  pf_get_counters(&mid);

  size_t calls = 0;
  auto once = [&](const char* what, pf_phys_t p) {
    ++calls;
    ASSERT_EQ(rec.count(), 1u) << what << " of phys 0x" << std::hex << p;
    rec.clear();
  };
  for (pf_phys_t p = 0x1000; p < 67 * MiB; p += 4096) {
    void* v = virt(p);
    if (std::find(live.begin(), live.end(), v) != live.end()) continue;
    kfree(v);
    once("kfree", p);
    kmem_cache_free(big_cache, v);
    once("kmem_cache_free", p);
    EXPECT_EQ(ksize(v), 0u);
    once("ksize", p);
    EXPECT_EQ(krealloc(v, 100, GFP_KERNEL), nullptr);
    once("krealloc", p);
    free_pages(p, 0);
    once("free_pages", p);
    free_contig(p, 1);
    once("free_contig", p);
  }
  EXPECT_GT(calls, 6u * 16000);
  pf_counters after{};
  pf_get_counters(&after);
  EXPECT_EQ(after.free_frames, mid.free_frames);
  EXPECT_EQ(after.reserved_frames, mid.reserved_frames);
  EXPECT_EQ(pf_verify(), 0);

  for (size_t i = 0; i < 64; ++i) kfree(live[i]);
  kmem_cache_free(ctor_cache, co);
  kmem_cache_free(big_cache, bo);
  kfree(large);
  free_pages(block, 2);
  free_contig(contig, 5);
  EXPECT_EQ(kmem_cache_destroy(ctor_cache), 0u);
  EXPECT_EQ(kmem_cache_destroy(big_cache), 0u);
  EXPECT_EQ(rec.count(), 0u);
}

// ksize and krealloc of a freed object whose slab is still in use (in
// this CPU's array, then on its slab's freelist) and of the allocator's own
// records: refused by name, nothing handed out or freed (krealloc to a
// smaller size once returned the freed object itself, and ksize its size).
TEST_F(CApi, KsizeAndKreallocOfAFreedObjectOrARecordAreRefused) {
  test::ErrorRecorder rec;
  void* keep = kmalloc(64, GFP_KERNEL);
  void* p = kmalloc(64, GFP_KERNEL);
  struct kmem_cache* c = kmem_cache_create("capi-ksize", 40, 0, 0, nullptr);
  ASSERT_TRUE(keep != nullptr && p != nullptr && c != nullptr);
  kfree(p);
  for (int where = 0; where < 2; ++where) {
    if (where == 1) {
      // The arrays drained: p back on its slab's freelist (keep holds the slab).
      kmem_cache_shrink(c);
      pf_reclaim();
      ASSERT_EQ(ksize(keep), 64u);
    }
    pf_counters mid{};
    pf_get_counters(&mid);
    rec.clear();
    EXPECT_EQ(ksize(p), 0u) << where;
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree) << where;
    EXPECT_EQ(krealloc(p, 32, GFP_KERNEL), nullptr) << where;
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree) << where;
    EXPECT_EQ(krealloc(p, 128, GFP_KERNEL), nullptr) << where;
    EXPECT_EQ(rec.last_code(), ErrorCode::SlabDoubleFree) << where;
    EXPECT_EQ(rec.count(), 3u) << where;
    pf_counters after{};
    pf_get_counters(&after);
    EXPECT_EQ(after.free_frames, mid.free_frames) << where;
    EXPECT_EQ(pf_verify(), 0) << where;
  }
  rec.clear();
  EXPECT_EQ(ksize(c), 0u);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabCacheHandle);
  EXPECT_EQ(krealloc(c, 8, GFP_KERNEL), nullptr);
  EXPECT_EQ(rec.last_code(), ErrorCode::SlabCacheHandle);
  EXPECT_EQ(rec.count(), 2u);
  // The next allocations never hand out p twice.
  void* a = kmalloc(64, GFP_KERNEL);
  void* b = kmalloc(64, GFP_KERNEL);
  EXPECT_NE(a, b);
  kfree(a);
  kfree(b);
  kfree(keep);
  EXPECT_EQ(kmem_cache_destroy(c), 0u);
  EXPECT_EQ(rec.count(), 2u);
}

TEST_F(CApi, ReleaseReservedHandsBackEachClassOnce) {
  // Once per process: a repeated run (--gtest_repeat) finds nothing left.
  static bool released = false;
  const uint64_t loader = released ? 0 : kLoaderFrames, acpi = released ? 0 : kAcpiFrames;
  released = true;
  test::ErrorRecorder rec;
  test::LogCapture quiet;
  EXPECT_EQ(pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE), loader);
  EXPECT_EQ(pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE), 0u);
  EXPECT_EQ(pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE), acpi);
  EXPECT_EQ(pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE), 0u);
  EXPECT_EQ(rec.count(), 0u);
  pf_counters after{};
  pf_get_counters(&after);
  EXPECT_EQ(after.free_frames, before_.free_frames + loader + acpi);
  EXPECT_EQ(after.reserved_frames, before_.reserved_frames - loader - acpi);
  EXPECT_EQ(pf_verify(), 0);

  // Every other type is refused by name, including one too wide for the
  // enum that would wrap onto bootloader-reclaimable (0x106 & 0xff == 6).
  for (unsigned type : {0u, unsigned{PF_REGION_USABLE}, unsigned{PF_REGION_RESERVED},
                        unsigned{PF_REGION_ACPI_NVS}, unsigned{PF_REGION_KERNEL}, 0x106u}) {
    rec.clear();
    EXPECT_EQ(pf_release_reserved(type), 0u) << type;
    ASSERT_EQ(rec.count(), 1u) << type;
    EXPECT_EQ(rec.last().code, ErrorCode::InvalidArgument) << type;
  }
  before_.free_frames += loader + acpi;  // what TearDown compares with
}

TEST_F(CApi, IntrospectionText) {
  char text[8192];
  size_t n = pf_format_buddyinfo(text, sizeof text);
  EXPECT_EQ(n, std::strlen(text));
  EXPECT_NE(std::string(text).find("Node 0, zone      DMA"), std::string::npos) << text;
  n = pf_format_slabinfo(text, sizeof text);
  EXPECT_NE(std::string(text).find("slabinfo - version: 2.1"), std::string::npos) << text;
  EXPECT_NE(std::string(text).find("kmalloc-64"), std::string::npos) << text;
}

TEST_F(CApi, BulkCallsHandOutAndTakeBackWholeBatches) {
  pf_phys_t pages[100];
  ASSERT_EQ(alloc_pages_bulk(0, GFP_KERNEL, 100, pages), 100u);
  for (size_t i = 0; i < 100; ++i) {
    EXPECT_NE(pages[i], 0u);
    EXPECT_EQ(pages[i] % 4096, 0u);
  }
  EXPECT_EQ(pf_verify(), 0);
  for (pf_phys_t p : pages) free_pages(p, 0);

  struct kmem_cache* c = kmem_cache_create("capi-bulk", 40, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* objs[300];
  ASSERT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 300, objs), 300);
  for (void* o : objs) EXPECT_NE(o, nullptr);
  EXPECT_EQ(pf_verify(), 0);
  kmem_cache_free_bulk(c, 300, objs);
  EXPECT_EQ(kmem_cache_destroy(c), 0u);
}

// pf_add_memory's refusals through the C API (the hot-add itself is
// hotadd_test.cpp's: this process's window ends at 67 MiB).
// The C API allocates through a Reclaimer (reclaim.hpp; reclaim_test.cpp
// has the cases): with the buddy empty and the slab caches holding freed
// objects, GFP_ATOMIC fails and GFP_KERNEL reclaims and succeeds.
TEST_F(CApi, OutOfMemoryReclaimsTheSlabCachesForKernelNotAtomic) {
  std::vector<void*> objs;
  for (int i = 0; i < 64; ++i) objs.push_back(kmalloc(4096, GFP_KERNEL));
  for (void* p : objs) ASSERT_NE(p, nullptr);
  for (void* p : objs) kfree(p);
  // Every free frame, without reclaim (GFP_ATOMIC): the slab caches keep theirs.
  std::vector<pf_phys_t> taken;
  for (pf_phys_t p; (p = alloc_pages(0, GFP_ATOMIC | __GFP_NOWARN)) != 0;) taken.push_back(p);
  pf_counters c{};
  pf_get_counters(&c);
  ASSERT_EQ(c.free_frames, 0u);
  EXPECT_EQ(alloc_pages(0, GFP_ATOMIC | __GFP_NOWARN), 0u);
  EXPECT_EQ(kmalloc(700, GFP_ATOMIC | __GFP_NOWARN), nullptr);
  const pf_phys_t page = alloc_pages(0, GFP_KERNEL | __GFP_NOWARN);
  EXPECT_NE(page, 0u);
  void* obj = kmalloc(700, GFP_KERNEL | __GFP_NOWARN);
  EXPECT_NE(obj, nullptr);
  kfree(obj);
  if (page != 0) free_pages(page, 0);
  for (pf_phys_t p : taken) free_pages(p, 0);
}

TEST_F(CApi, AddMemoryRefusalsAreNamed) {
  test::LogCapture log;
  EXPECT_EQ(pf_add_memory(80 * MiB + 12, 4 * MiB), PF_ERR_HOTPLUG_MISALIGNED);
  EXPECT_EQ(pf_add_memory(80 * MiB, 0), PF_ERR_HOTPLUG_TOO_SMALL);
  EXPECT_EQ(pf_add_memory(4 * MiB, 4 * MiB), PF_ERR_HOTPLUG_OVERLAP);
  EXPECT_EQ(pf_add_memory(uint64_t{1} << 52, 4 * MiB), PF_ERR_HOTPLUG_BEYOND_LIMIT);
  EXPECT_NE(log.text().find("pfalloc: warning: hotplug-overlap"), std::string::npos) << log.text();
}

// Between pf_fork_prepare and pf_fork_parent, the CPU that holds the locks
// would wait for itself in every call that takes one (they hung): the calls
// that are no per-CPU fast path are refused by name, null result, nothing
// done; after pf_fork_parent the same calls work.
TEST_F(CApi, CallsOnTheCpuHoldingTheForkLocksAreRefused) {
  kmem_cache* c = kmem_cache_create("fork-held", 64, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  void* objs[2] = {};
  ASSERT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 2, objs), 2);
  const pf_phys_t run = alloc_contig(3, 0, 0, 0, GFP_KERNEL);
  ASSERT_NE(run, 0u);
  {
    test::ErrorRecorder rec;
    pf_fork_prepare();
    ASSERT_EQ(rec.count(), 0u);
    pf_phys_t pages[2] = {};
    void* more[2] = {};
    char text[256];
    size_t n = 0;
    auto refused = [&](const char* call) {
      EXPECT_EQ(rec.count(), ++n) << call;
      EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument) << call;
      if (rec.count() > 0) {
        EXPECT_NE(rec.last_message().find(call), std::string::npos) << rec.last_message();
      }
    };
    EXPECT_EQ(alloc_pages_bulk(0, GFP_KERNEL, 2, pages), 0u);
    refused("alloc_pages_bulk");
    EXPECT_EQ(alloc_contig(2, 0, 0, 0, GFP_KERNEL), 0u);
    refused("alloc_contig");
    free_contig(run, 3);
    refused("free_contig");
    EXPECT_EQ(pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE), 0u);
    refused("pf_release_reserved");
    EXPECT_EQ(pf_add_memory(80 * MiB, 4 * MiB), PF_ERR_BAD_CONFIG);
    refused("pf_add_memory");
    pf_drain_pages();
    refused("pf_drain_pages");
    EXPECT_EQ(pf_reclaim(), 0u);
    refused("pf_reclaim");
    EXPECT_EQ(kmem_cache_create("late", 64, 0, 0, nullptr), nullptr);
    refused("kmem_cache_create");
    EXPECT_EQ(kmem_cache_alloc_bulk(c, GFP_KERNEL, 2, more), 0);
    refused("kmem_cache_alloc_bulk");
    kmem_cache_free_bulk(c, 2, objs);
    refused("kmem_cache_free_bulk");
    EXPECT_EQ(kmem_cache_shrink(c), 0u);
    refused("kmem_cache_shrink");
    EXPECT_EQ(kmem_cache_destroy(c), 0u);
    refused("kmem_cache_destroy");
    EXPECT_EQ(pf_format_slabinfo(text, sizeof text), 0u);
    EXPECT_EQ(text[0], '\0');
    refused("pf_format_slabinfo");
    EXPECT_EQ(pf_verify(), -1);
    refused("pf_verify");
    pf_fork_parent();
    EXPECT_EQ(rec.count(), n) << rec.log();
  }
  // Nothing was done: the run and the objects are still the caller's.
  free_contig(run, 3);
  kmem_cache_free_bulk(c, 2, objs);
  EXPECT_EQ(kmem_cache_destroy(c), 0u);
}

// The fork calls in pthread_atfork's order around a real fork(): the child
// allocates, frees and verifies; both sides end with every lock free.
// (Called directly, not registered with pthread_atfork: registration would
// outlive the test in this process.)
TEST_F(CApi, ForkCallsAroundARealFork) {
  void* held = kmalloc(300, GFP_KERNEL);
  ASSERT_NE(held, nullptr);
  std::fflush(nullptr);
  pf_fork_prepare();
  const pid_t pid = fork();
  if (pid == 0) {
    pf_fork_child();
    int status = pf_verify() == 0 ? 0 : 1;
    void* p = kmalloc(5000, GFP_KERNEL);
    const pf_phys_t page = alloc_pages(3, GFP_KERNEL);
    if (p == nullptr || page == 0) status = 2;
    kfree(p);
    kfree(held);  // the parent's object is the child's too
    free_pages(page, 3);
    if (pf_verify() != 0) status = 3;
    _exit(status);
  }
  pf_fork_parent();
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  kfree(held);
}

// ---- arguments ----------------------------------------------------------------
// Every call's bad arguments: a named report and a null result (or, where
// the request is only more than memory can give, a null result and no
// report); nothing lost either way (TearDown compares the free frames and
// runs pf_verify). The misuse programs (tests/misuse) cover the same calls
// with the default, fatal handler.
class CApiArgs : public CApi {
 protected:
  // Runs `call`; expects exactly one report named `code`, or none for
  // ErrorCode::Count.
  template <typename F>
  void expect(ErrorCode code, const char* what, F call) {
    const size_t before = rec_.count();
    call();
    if (code == ErrorCode::Count) {
      EXPECT_EQ(rec_.count(), before) << what << ": " << rec_.last_message();
      return;
    }
    ASSERT_EQ(rec_.count(), before + 1) << what;
    EXPECT_EQ(rec_.last_code(), code) << what << ": " << rec_.last_message();
    EXPECT_NE(rec_.last().caller, nullptr) << what;
  }
  test::ErrorRecorder rec_;
};

// Bits outside pfalloc.h's __GFP_*, and __GFP_DMA with __GFP_DMA32, used to
// be ignored (the first zone bit won). Now every call that takes flags
// refuses them by name; alloc_pages(0..3) and kmem_cache_alloc do on their
// slow paths (a drained page cache, a new cache's empty arrays here).
TEST_F(CApiArgs, GfpBitsOutsidePfallocHAreRefusedByName) {
  const gfp_t bad[] = {0x80u, 0x100u, 0x80000000u, ~0u, __GFP_DMA | __GFP_DMA32,
                       __GFP_DMA | __GFP_DMA32 | __GFP_ZERO | __GFP_THISZONE | __GFP_NOWARN};
  const ErrorCode G = ErrorCode::GfpInvalid;
  char* p = static_cast<char*>(kmalloc(100, GFP_KERNEL));
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x5a, 100);
  const size_t have = ksize(p);
  struct kmem_cache* c = kmem_cache_create("capi-gfp", 48, 0, 0, nullptr);
  ASSERT_NE(c, nullptr);
  for (gfp_t f : bad) {
    SCOPED_TRACE(testing::Message() << "flags 0x" << std::hex << f);
    expect(G, "kmalloc", [&] { EXPECT_EQ(kmalloc(64, f), nullptr); });
    expect(G, "kmalloc large", [&] { EXPECT_EQ(kmalloc(64 * KiB, f), nullptr); });
    expect(G, "kmalloc 0", [&] { EXPECT_EQ(kmalloc(0, f), nullptr); });
    expect(G, "kzalloc", [&] { EXPECT_EQ(kzalloc(32, f), nullptr); });
    expect(G, "kcalloc", [&] { EXPECT_EQ(kcalloc(4, 8, f), nullptr); });
    expect(G, "kcalloc overflowing", [&] { EXPECT_EQ(kcalloc(SIZE_MAX / 2, 4, f), nullptr); });
    expect(G, "krealloc grow", [&] { EXPECT_EQ(krealloc(p, 4000, f), nullptr); });
    expect(G, "krealloc shrink", [&] { EXPECT_EQ(krealloc(p, 16, f), nullptr); });
    expect(G, "krealloc to 0", [&] { EXPECT_EQ(krealloc(p, 0, f), nullptr); });
    expect(G, "krealloc of null", [&] { EXPECT_EQ(krealloc(nullptr, 16, f), nullptr); });
    expect(G, "kmalloc_aligned", [&] { EXPECT_EQ(global_slab().kmalloc_aligned(64, 64, f), nullptr); });
    expect(G, "alloc_pages order 4", [&] { EXPECT_EQ(alloc_pages(4, f), 0u); });
    expect(G, "alloc_pages order 11", [&] { EXPECT_EQ(alloc_pages(11, f), 0u); });
    pf_drain_pages();
    expect(G, "alloc_pages order 0, cold", [&] { EXPECT_EQ(alloc_pages(0, f), 0u); });
    pf_phys_t pages[4] = {};
    expect(G, "alloc_pages_bulk", [&] { EXPECT_EQ(alloc_pages_bulk(0, f, 4, pages), 0u); });
    expect(G, "alloc_pages_bulk of 0", [&] { EXPECT_EQ(alloc_pages_bulk(0, f, 0, nullptr), 0u); });
    expect(G, "alloc_contig", [&] { EXPECT_EQ(alloc_contig(2, 0, 0, 0, f), 0u); });
    expect(G, "kmem_cache_alloc, cold", [&] { EXPECT_EQ(kmem_cache_alloc(c, f), nullptr); });
    void* objs[4] = {};
    expect(G, "kmem_cache_alloc_bulk", [&] { EXPECT_EQ(kmem_cache_alloc_bulk(c, f, 4, objs), 0); });
    EXPECT_NE(rec_.last_message().find("gfp-invalid-flags: kmem_cache_alloc_bulk: "), std::string::npos)
        << rec_.last_message();
  }
  // p untouched by every refused krealloc.
  EXPECT_EQ(ksize(p), have);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(p[i], 0x5a) << i;
  kfree(p);
  EXPECT_EQ(kmem_cache_destroy(c), 0u);
  EXPECT_EQ(rec_.count(), std::size(bad) * 19);
}

// Every defined bit and every single zone limit still passes.
TEST_F(CApiArgs, EveryDefinedGfpCombinationIsAccepted) {
  for (gfp_t f = 0; f <= 0x7fu; ++f) {
    if ((f & (__GFP_DMA | __GFP_DMA32)) == (__GFP_DMA | __GFP_DMA32)) continue;
    void* o = kmalloc(64, f);
    ASSERT_NE(o, nullptr) << f;
    kfree(o);
    const pf_phys_t p = alloc_pages(4, f | __GFP_NOWARN);
    if (!(f & __GFP_THISZONE) || (f & (__GFP_DMA | __GFP_DMA32))) {
      EXPECT_NE(p, 0u) << f;  // (__GFP_THISZONE alone: no Normal zone here)
    }
    if (p != 0) free_pages(p, 4);
  }
  EXPECT_EQ(rec_.count(), 0u);
}

TEST_F(CApiArgs, PageCallArguments) {
  const ErrorCode none = ErrorCode::Count, inval = ErrorCode::InvalidArgument;
  const pf_phys_t p = alloc_pages(2, GFP_KERNEL);
  ASSERT_NE(p, 0u);
  // Orders past the largest: out of memory when allocating, misuse when freeing.
  expect(none, "alloc_pages(UINT_MAX)", [&] { EXPECT_EQ(alloc_pages(~0u, __GFP_NOWARN), 0u); });
  expect(ErrorCode::PageBadOrder, "free_pages(UINT_MAX)", [&] { free_pages(p, ~0u); });
  expect(ErrorCode::PageBadOrder, "free_pages(2 + 256)", [&] { free_pages(p, 2 + 256); });
  pf_phys_t pages[4] = {};
  expect(none, "alloc_pages_bulk count 0, no array", [&] { EXPECT_EQ(alloc_pages_bulk(0, 0, 0, nullptr), 0u); });
  expect(inval, "alloc_pages_bulk no array", [&] { EXPECT_EQ(alloc_pages_bulk(0, 0, 4, nullptr), 0u); });
  expect(inval, "alloc_pages_bulk SIZE_MAX, no array",
         [&] { EXPECT_EQ(alloc_pages_bulk(0, 0, SIZE_MAX, nullptr), 0u); });
  expect(none, "alloc_pages_bulk order 11", [&] { EXPECT_EQ(alloc_pages_bulk(11, __GFP_NOWARN, 4, pages), 0u); });
  expect(none, "alloc_pages_bulk order UINT_MAX",
         [&] { EXPECT_EQ(alloc_pages_bulk(~0u, __GFP_NOWARN, 4, pages), 0u); });
  free_pages(p, 2);
}

TEST_F(CApiArgs, ContigCallArguments) {
  const ErrorCode none = ErrorCode::Count, inval = ErrorCode::InvalidArgument;
  expect(inval, "count 0", [&] { EXPECT_EQ(alloc_contig(0, 0, 0, 0, 0), 0u); });
  expect(inval, "align 3 pages", [&] { EXPECT_EQ(alloc_contig(1, 3 * kPageSize, 0, 0, 0), 0u); });
  expect(inval, "align 2048", [&] { EXPECT_EQ(alloc_contig(1, 2048, 0, 0, 0), 0u); });
  expect(inval, "align 1", [&] { EXPECT_EQ(alloc_contig(1, 1, 0, 0, 0), 0u); });
  expect(inval, "align 2^64 - 1", [&] { EXPECT_EQ(alloc_contig(1, ~uint64_t{0}, 0, 0, 0), 0u); });
  expect(inval, "boundary 3 pages", [&] { EXPECT_EQ(alloc_contig(1, 0, 3 * kPageSize, 0, 0), 0u); });
  expect(inval, "boundary 2048", [&] { EXPECT_EQ(alloc_contig(1, 0, 2048, 0, 0), 0u); });
  // More than memory can give: null, no report.
  expect(none, "count beyond memory", [&] { EXPECT_EQ(alloc_contig(size_t{1} << 20, 0, 0, 0, __GFP_NOWARN), 0u); });
  expect(none, "count SIZE_MAX", [&] { EXPECT_EQ(alloc_contig(SIZE_MAX, 0, 0, 0, __GFP_NOWARN), 0u); });
  expect(none, "align 2^63", [&] { EXPECT_EQ(alloc_contig(1, uint64_t{1} << 63, 0, 0, __GFP_NOWARN), 0u); });
  expect(none, "max_addr below memory", [&] { EXPECT_EQ(alloc_contig(1, 0, 0, kPageSize, __GFP_NOWARN), 0u); });
  expect(none, "max_addr below the count",
         [&] { EXPECT_EQ(alloc_contig(16, 0, 0, 8 * kPageSize, __GFP_NOWARN), 0u); });
  expect(none, "boundary below the count",
         [&] { EXPECT_EQ(alloc_contig(16, 0, 8 * kPageSize, 0, __GFP_NOWARN), 0u); });
  pf_phys_t p = 0;
  expect(none, "max_addr 0 (no limit), huge boundary",
         [&] { EXPECT_NE(p = alloc_contig(3, 0, uint64_t{1} << 63, 0, 0), 0u); });
  ASSERT_NE(p, 0u);
  expect(inval, "free_contig count 0", [&] { free_contig(p, 0); });
  expect(ErrorCode::ContigBadFree, "free_contig count + 1", [&] { free_contig(p, 4); });
  expect(ErrorCode::ContigBadFree, "free_contig count SIZE_MAX", [&] { free_contig(p, SIZE_MAX); });
  expect(ErrorCode::PageOutsideManaged, "free_contig(0)", [&] { free_contig(0, 3); });
  expect(ErrorCode::PageMisaligned, "free_contig unaligned", [&] { free_contig(p + 1, 3); });
  expect(none, "free_contig", [&] { free_contig(p, 3); });
}

// pf_add_memory's refusals are pf_status codes with a warning, no report.
TEST_F(CApiArgs, AddMemoryArguments) {
  const uint64_t warned = warning_count();
  EXPECT_EQ(pf_add_memory(128 * MiB, 0), PF_ERR_HOTPLUG_TOO_SMALL);
  EXPECT_EQ(pf_add_memory(128 * MiB, 4 * MiB + 1), PF_ERR_HOTPLUG_MISALIGNED);
  EXPECT_EQ(pf_add_memory(128 * MiB + 512, 4 * MiB), PF_ERR_HOTPLUG_MISALIGNED);
  EXPECT_EQ(pf_add_memory(128 * MiB, kPageSize), PF_ERR_HOTPLUG_TOO_SMALL);
  EXPECT_EQ(pf_add_memory(0, 4 * MiB), PF_ERR_HOTPLUG_OVERLAP);
  EXPECT_EQ(pf_add_memory(0x9f000, kPageSize), PF_ERR_HOTPLUG_BELOW_TOP);  // the BIOS hole
  EXPECT_EQ(pf_add_memory(66 * MiB, 4 * MiB), PF_ERR_HOTPLUG_OVERLAP);    // over the ACPI tables
  EXPECT_EQ(pf_add_memory(0xfffffffffffff000ull, 0x2000), PF_ERR_HOTPLUG_BEYOND_LIMIT);  // wraps
  EXPECT_EQ(pf_add_memory(kPhysAddrLimit - kPageSize, 2 * kPageSize), PF_ERR_HOTPLUG_BEYOND_LIMIT);
  EXPECT_EQ(pf_add_memory(4 * MiB, ~uint64_t{0} & ~(kPageSize - 1)), PF_ERR_HOTPLUG_BEYOND_LIMIT);
  EXPECT_EQ(warning_count(), warned + 10);
  EXPECT_EQ(rec_.count(), 0u);
}

TEST_F(CApiArgs, SlabCallArguments) {
  const ErrorCode none = ErrorCode::Count, inval = ErrorCode::InvalidArgument;
  auto create = [](const char* name, size_t size, size_t align, unsigned flags) {
    return [=] { EXPECT_EQ(kmem_cache_create(name, size, align, flags, nullptr), nullptr); };
  };
  expect(inval, "create: null name", create(nullptr, 64, 0, 0));
  expect(inval, "create: empty name", create("", 64, 0, 0));
  expect(inval, "create: size 0", create("x", 0, 0, 0));
  expect(inval, "create: size SIZE_MAX", create("x", SIZE_MAX, 0, 0));
  expect(inval, "create: size 2^32 + 64", create("x", (size_t{1} << 32) + 64, 0, 0));
  expect(inval, "create: align 3", create("x", 64, 3, 0));
  expect(inval, "create: align 24", create("x", 64, 24, 0));
  expect(inval, "create: align 8192", create("x", 64, 8192, 0));
  expect(inval, "create: align SIZE_MAX", create("x", 64, SIZE_MAX, 0));
  expect(inval, "create: flag 0x10", create("x", 64, 0, 0x10));
  expect(inval, "create: flag 2^31", create("x", 64, 0, 0x80000000u));
  expect(inval, "kmem_cache_alloc(NULL)", [&] { EXPECT_EQ(kmem_cache_alloc(nullptr, 0), nullptr); });
  expect(none, "kmem_cache_destroy(NULL)", [&] { EXPECT_EQ(kmem_cache_destroy(nullptr), 0u); });
  expect(none, "kmem_cache_shrink(NULL)", [&] { EXPECT_EQ(kmem_cache_shrink(nullptr), 0u); });

  SlabAllocator& slab = global_slab();
  for (size_t align : {size_t{0}, size_t{3}, size_t{24}, size_t{4097}, SIZE_MAX})
    expect(inval, "kmalloc_aligned", [&] { EXPECT_EQ(slab.kmalloc_aligned(64, align, 0), nullptr); });
  expect(none, "kmalloc_aligned 2^63", [&] { EXPECT_EQ(slab.kmalloc_aligned(64, size_t{1} << 63, 0), nullptr); });
  void* a = slab.kmalloc_aligned(64, 8192, 0);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % 8192, 0u);
  kfree(a);

  char* p = static_cast<char*>(kmalloc(48, 0));
  ASSERT_NE(p, nullptr);
  std::memset(p, 0x33, 48);
  for (size_t align : {size_t{0}, size_t{3}, size_t{24}, SIZE_MAX}) {
    expect(inval, "krealloc_aligned shrink", [&] { EXPECT_EQ(slab.krealloc_aligned(p, 16, align, 0), nullptr); });
    expect(inval, "krealloc_aligned to 0", [&] { EXPECT_EQ(slab.krealloc_aligned(p, 0, align, 0), nullptr); });
    expect(inval, "krealloc_aligned grow", [&] { EXPECT_EQ(slab.krealloc_aligned(p, 5000, align, 0), nullptr); });
  }
  expect(none, "krealloc_aligned 2^63", [&] { EXPECT_EQ(slab.krealloc_aligned(p, 64, size_t{1} << 63, 0), nullptr); });
  expect(none, "krealloc huge", [&] { EXPECT_EQ(krealloc(p, SIZE_MAX, __GFP_NOWARN), nullptr); });
  expect(none, "krealloc 2^40", [&] { EXPECT_EQ(krealloc(p, size_t{1} << 40, __GFP_NOWARN), nullptr); });
  EXPECT_EQ(ksize(p), 48u);
  for (int i = 0; i < 48; ++i) ASSERT_EQ(p[i], 0x33) << i;
  kfree(p);
  expect(none, "kcalloc overflow", [&] { EXPECT_EQ(kcalloc(SIZE_MAX / 8 + 1, 16, 0), nullptr); });
  expect(none, "kcalloc SIZE_MAX x SIZE_MAX", [&] { EXPECT_EQ(kcalloc(SIZE_MAX, SIZE_MAX, 0), nullptr); });
  expect(none, "kcalloc 0", [&] { EXPECT_EQ(kcalloc(0, 16, 0), nullptr); });
  expect(none, "ksize(NULL)", [&] { EXPECT_EQ(ksize(nullptr), 0u); });
  expect(none, "kfree(NULL)", [&] { kfree(nullptr); });
  expect(none, "kfree_sized(NULL)", [&] { kfree_sized(nullptr, 64); });
}

TEST_F(CApiArgs, IntrospectionArguments) {
  const ErrorCode none = ErrorCode::Count, inval = ErrorCode::InvalidArgument;
  expect(inval, "pf_get_counters(NULL)", [&] { pf_get_counters(nullptr); });
  expect(inval, "buddyinfo(NULL, 64)", [&] { EXPECT_EQ(pf_format_buddyinfo(nullptr, 64), 0u); });
  expect(inval, "slabinfo(NULL, 64)", [&] { EXPECT_EQ(pf_format_slabinfo(nullptr, 64), 0u); });
  expect(none, "buddyinfo(NULL, 0)", [&] { EXPECT_EQ(pf_format_buddyinfo(nullptr, 0), 0u); });
  expect(none, "slabinfo(NULL, 0)", [&] { EXPECT_EQ(pf_format_slabinfo(nullptr, 0), 0u); });
  char one[1] = {'x'};
  expect(none, "slabinfo into 1 byte", [&] { EXPECT_EQ(pf_format_slabinfo(one, 1), 0u); });
  EXPECT_EQ(one[0], '\0');
  expect(none, "quiescent count of no CPU", [&] { EXPECT_EQ(pf_cpu_quiescent_count(~0u), 0u); });
  for (unsigned type : {0u, 1u, 2u, 5u, 99u, 0x106u, ~0u})
    expect(inval, "pf_release_reserved", [&] { EXPECT_EQ(pf_release_reserved(type), 0u); });
  pf_config again{};
  expect(none, "pf_init twice", [&] { EXPECT_EQ(pf_init(&again, kMap, 4, nullptr, 0), PF_ERR_BAD_CONFIG); });
  expect(none, "pf_init(NULL)", [&] { EXPECT_EQ(pf_init(nullptr, kMap, 4, nullptr, 0), PF_ERR_BAD_CONFIG); });
}

// pfalloc.h: "after a failure nothing is set up and pf_init may be called
// again". Maps of 1, 2, 3, ... frames are offered in turn, in one process,
// until one fits: the first ones fail in the page allocator (no room for its
// descriptors), the next ones in the slab layer (no room for the first slabs
// of its caches, with the page allocator's init already done), and every
// failure must leave both instances as they were, or the map that fits is
// refused as a second init. A child process: the global instances are set up
// once per process, and CApi's suite sets them up its own way.
[[noreturn]] void init_until_a_map_fits() {
  const auto fail = [](const char* why, uint64_t frames) {
    std::fprintf(stderr, "%s (a map of %llu frames)\n", why, static_cast<unsigned long long>(frames));
    std::_Exit(1);
  };
  static hosted::HostedMemory memory;
  if (!memory.reserve(PhysAddr{0}, PhysAddr{17 * MiB})) fail("no window", 0);
  pf_config config{};
  config.direct_map_offset = memory.direct_map_offset();
  config.cpu_count = 2;
  uint64_t frames = 1;
  for (;; ++frames) {
    if (frames > 4096) fail("no map fits", frames);
    const pf_region map[] = {{1 * MiB, frames * kPageSize, PF_REGION_USABLE}};
    const int status = pf_init(&config, map, 1, nullptr, 0);
    if (status == PF_OK) break;
    if (status != PF_ERR_NO_USABLE_MEMORY && status != PF_ERR_NO_ROOM_FOR_DESCRIPTORS)
      fail(status == PF_ERR_BAD_CONFIG ? "refused as a second init" : "an unexpected status", frames);
    // Nothing set up: no memory, and a page allocation says so.
    pf_counters c{};
    pf_get_counters(&c);
    if (c.managed_frames != 0) fail("memory left managed", frames);
    if (alloc_pages(0, GFP_KERNEL) != 0) fail("a page allocated", frames);
  }
  // The allocator that finally came up works: every free frame can be
  // allocated and freed again, and a second init is refused.
  pf_counters before{};
  pf_get_counters(&before);
  if (before.managed_frames == 0 || before.managed_frames > frames) fail("managed frames out of the map", frames);
  std::vector<pf_phys_t> pages;
  for (pf_phys_t p; (p = alloc_pages(0, GFP_KERNEL)) != 0;) pages.push_back(p);
  if (pages.size() != before.free_frames) fail("free frames not all allocatable", frames);
  for (pf_phys_t p : pages) free_pages(p, 0);
  pf_counters after{};
  pf_get_counters(&after);
  if (after.free_frames != before.free_frames || pf_verify() != 0) fail("not as it was", frames);
  if (pf_init(&config, nullptr, 0, nullptr, 0) != PF_ERR_BAD_CONFIG) fail("a second init not refused", frames);
  std::fprintf(stderr, "fits from %llu frames\n", static_cast<unsigned long long>(frames));
  std::_Exit(0);
}

TEST(CApiInitRetry, EveryFailedInitMayBeRetried) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(init_until_a_map_fits(), ::testing::ExitedWithCode(0), "fits from [0-9]+ frames");
}

}  // namespace
}  // namespace pf
