// capi_test.cpp — the C API of pfalloc.h over the global instances, set up
// once per process by pf_init() on a hosted window, as an embedding kernel
// would do it from its firmware map.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "hosted/hosted.hpp"
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

}  // namespace
}  // namespace pf
