// misuse_death_test.cpp — death tests for the routes to each always-on and
// debug-mode class that the layers' own suites (buddy_test, slab_test,
// slab_debug_test) leave without one: under the default handler each misuse
// ends the process with a message that names the error, where it happened
// and (for the public API) who called.
//
// Covered here:
//   pages:   a frame inside a free block, a frame in a hole between managed
//            ranges, free_contig twice, verify() finding a corrupt descriptor;
//   objects: kfree twice, kfree of an alloc_pages block, of a freed block, of
//            the inside of a large kmalloc block, ksize of an inside pointer,
//            kmem_cache_free of a large block;
//   debug:   a redzone overrun by 8 bytes found at free, an overrun and a
//            write after free found by verify(), a destroyed debug cache
//            listing its live object with size and allocating caller;
//   C API:   every always-on class through pfalloc.h, each message naming
//            a caller, and for the object calls the caller being the code
//            that called pfalloc.
//
// Each death statement builds what it breaks inside the child where it can,
// so the parent's allocator is left exactly as found (checked by the
// fixtures' teardown and by verify()).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "hosted/hosted.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/pfalloc.h"
#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/page_test_util.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using test::Machine;
using test::Verified;

// ---- pages ------------------------------------------------------------------------------

TEST(PageMisuseDeathTest, MoreRoutesToEachClassAreFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // Two ranges with a hole between them: [1 MiB, 9 MiB) and [12 MiB, 20 MiB).
  Machine m({{.base = 1 * MiB, .length = 8 * MiB, .type = RegionType::Usable},
             {.base = 12 * MiB, .length = 8 * MiB, .type = RegionType::Usable}},
            PageAllocatorConfig{.cpu_count = 1});
  ASSERT_TRUE(m.ok());
  PageAllocator& pages = m.pages();
  test::LeaveAsFound guard(pages);

  // A frame inside a free block (not its head): a double free, not a tail.
  EXPECT_DEATH(
      {
        const PhysAddr b = pages.alloc_pages(Order{4}, GFP_KERNEL);
        pages.free_pages(b, Order{4});
        pages.drain_cpu_caches();
        pages.free_pages(b + 5 * kPageSize, Order{0});
      },
      "page-double-free: .*inside a free block.*frame=");
  EXPECT_DEATH(pages.free_pages(PhysAddr{10 * MiB}, Order{0}), "page-outside-managed-memory.*frame=0xa00");
  EXPECT_DEATH(
      {
        const PhysAddr c = pages.alloc_contig(7, {});
        pages.free_contig(c, 7);
        pages.free_contig(c, 7);
      },
      "page-double-free: free_contig");
  // verify() under the default handler: a broken descriptor is fatal too.
  EXPECT_DEATH(
      {
        const PhysAddr a = pages.alloc_pages(Order{2}, GFP_KERNEL);
        set_frame_state(*pages.descriptor(to_pfn(a) + 1), FrameState::Free);
        (void)pages.verify();
      },
      "verify-failed");
  EXPECT_TRUE(Verified(pages));
}

// ---- objects: always-on classes by other routes ----------------------------------------------

using ObjectMisuseDeathTest = test::SlabFixture;

TEST_F(ObjectMisuseDeathTest, MoreRoutesToEachAlwaysOnClassAreFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        void* p = slab_.kmalloc(40, GFP_KERNEL);
        slab_.kfree(p);
        slab_.kfree(p);
      },
      "slab-double-free.*cache=kmalloc-48.*caller=0x");
  EXPECT_DEATH(
      {
        const PhysAddr a = pages().alloc_pages(Order{1}, GFP_KERNEL);
        slab_.kfree(pages().to_virt<void>(a));
      },
      "slab-not-a-slab-page.*caller=0x");
  EXPECT_DEATH(
      {
        const PhysAddr a = pages().alloc_pages(Order{0}, GFP_KERNEL);
        pages().free_pages(a, Order{0});
        slab_.kfree(pages().to_virt<void>(a));  // a free frame
      },
      "slab-not-a-slab-page");
  EXPECT_DEATH(
      {
        char* big = static_cast<char*>(slab_.kmalloc(20000, GFP_KERNEL));
        slab_.kfree(big + 4096);
      },
      "slab-not-object-start.*caller=0x");
  EXPECT_DEATH(
      {
        char* p = static_cast<char*>(slab_.kmalloc(100, GFP_KERNEL));
        (void)slab_.ksize(p + 8);
      },
      "slab-not-object-start.*cache=kmalloc-128");
  EXPECT_DEATH(
      {
        KmemCache* c = slab_.cache_create("victim", 64, 0, 0, nullptr);
        slab_.cache_free(c, slab_.kmalloc(20000, GFP_KERNEL));
      },
      "slab-not-a-slab-page");
}

// ---- objects: debug-mode classes by other routes ----------------------------------------------

class DebugMisuseDeathTest : public test::SlabFixture {
 protected:
  SlabConfig slab_config() const override { return {.cpu_count = kCpus, .debug = true}; }
};

TEST_F(DebugMisuseDeathTest, MoreRoutesToEachDebugClassAreFatal) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(slab_.kmalloc(24, GFP_KERNEL));
        p[24 + 7] = 0x42;  // the 8th byte past the object
        slab_.kfree(p);
      },
      "slab-redzone-overwritten.*cache=kmalloc-24.*caller=0x");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(slab_.kmalloc(100, GFP_KERNEL));
        p[100] = 0;
        (void)slab_.verify();
      },
      "slab-redzone-overwritten.*cache=kmalloc-128");
  EXPECT_DEATH(
      {
        auto* p = static_cast<char*>(slab_.kmalloc(64, GFP_KERNEL));
        slab_.kfree(p);
        p[3] = 0;
        (void)slab_.verify();
      },
      "slab-write-after-free.*cache=kmalloc-64");
  EXPECT_DEATH(
      {
        KmemCache* c = slab_.cache_create("tracked", 40, 0, 0, nullptr);
        (void)slab_.cache_alloc(c, GFP_KERNEL);
        slab_.cache_destroy(c);
      },
      "live object 0x[0-9a-f]+ size 40 allocated by 0x[0-9a-f]+.*"
      "cache-destroyed-with-live-objects.*cache=tracked");
}

// ---- the C API ------------------------------------------------------------------------------------

// The global instances behind pfalloc.h, set up once per process. A death
// statement calls this in the child, so the parent (where capi_test sets
// the instances up its own way) never sees it.
void c_api_up() {
  static hosted::HostedMemory memory;
  if (memory.direct_map_offset() != 0) return;
  if (!memory.reserve(PhysAddr{0}, PhysAddr{33 * MiB})) std::abort();
  const pf_region map[] = {{1 * MiB, 32 * MiB, PF_REGION_USABLE}};
  pf_config config{};
  config.direct_map_offset = memory.direct_map_offset();
  config.cpu_count = 1;
  const int status = pf_init(&config, map, 1, nullptr, 0);
  // Already up (this process ran capi_test's suite): use those instances.
  if (status != PF_OK && status != PF_ERR_BAD_CONFIG) std::abort();
}

TEST(CApiMisuseDeathTest, EachAlwaysOnClassIsFatalAndNamesTheCaller) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        c_api_up();
        const pf_phys_t p = alloc_pages(0, GFP_KERNEL);
        free_pages(p, 0);
        free_pages(p, 0);
      },
      "page-double-free.*frame=.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        free_pages(alloc_pages(2, GFP_KERNEL), 3);
      },
      "page-(wrong-order|misaligned-for-order).*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        free_pages(alloc_pages(2, GFP_KERNEL) + kPageSize, 0);
      },
      "page-tail-frame.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        free_pages(64 * GiB, 0);
      },
      "page-outside-managed-memory.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        free_contig(alloc_contig(3, 0, 0, 0, GFP_KERNEL), 2);
      },
      "contig-bad-free.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        void* p = kmalloc(64, GFP_KERNEL);
        kfree(p);
        kfree(p);
      },
      "slab-double-free.*cache=kmalloc-64.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        kfree(static_cast<char*>(kmalloc(64, GFP_KERNEL)) + 8);
      },
      "slab-not-object-start.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        int on_stack = 0;
        kfree(&on_stack);
      },
      "slab-not-a-slab-page.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        kfree_sized(kmalloc(64, GFP_KERNEL), 65);
      },
      "slab-wrong-size.*cache=kmalloc-64.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        void* p = kmalloc(64, GFP_KERNEL);
        kfree_sized(p, 64);
        kfree_sized(p, 64);
      },
      "slab-double-free.*cache=kmalloc-64.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        kmem_cache* a = kmem_cache_create("c-api-a", 32, 0, 0, nullptr);
        kmem_cache* b = kmem_cache_create("c-api-b", 32, 0, 0, nullptr);
        kmem_cache_free(b, kmem_cache_alloc(a, GFP_KERNEL));
      },
      "slab-wrong-cache.*cache=c-api-b.*caller=0x");
  EXPECT_DEATH(
      {
        c_api_up();
        kmem_cache* c = kmem_cache_create("c-api-live", 32, 0, 0, nullptr);
        (void)kmem_cache_alloc(c, GFP_KERNEL);
        kmem_cache_destroy(c);
      },
      "cache-destroyed-with-live-objects.*cache=c-api-live.*caller=0x");
}

// "Who": the caller a report names is the code that called pfalloc (the
// return address of the C API call), not a frame inside pfalloc. Each
// misuse sits in its own small function; the reported caller must fall
// inside it, in every build (the C API passes its own return address down).
struct Site {
  uintptr_t begin;
  const void* caller = nullptr;
  ErrorCode code = ErrorCode::Count;
};

__attribute__((noinline)) void kfree_foreign_here(const void* p) {
  kfree(p);
  asm volatile("" ::: "memory");  // keep the call a call, not a tail jump
}
__attribute__((noinline)) void free_pages_twice_here(pf_phys_t p) {
  free_pages(p, 0);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void free_contig_short_here(pf_phys_t p) {
  free_contig(p, 1);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void cache_free_wrong_here(kmem_cache* to, void* obj) {
  kmem_cache_free(to, obj);
  asm volatile("" ::: "memory");
}

::testing::AssertionResult CallerInside(const test::ErrorRecorder& rec, const void* fn, const char* what) {
  if (rec.count() != 1) return ::testing::AssertionFailure() << what << ": " << rec.count() << " reports";
  const auto begin = reinterpret_cast<uintptr_t>(fn);
  const auto caller = reinterpret_cast<uintptr_t>(rec.last().caller);
  // These functions are a few dozen bytes; 256 leaves room for sanitizer code.
  if (caller > begin && caller < begin + 256) return ::testing::AssertionSuccess();
  char where[96];
  std::snprintf(where, sizeof where, "caller=0x%lx, the calling function starts at 0x%lx",
                static_cast<unsigned long>(caller), static_cast<unsigned long>(begin));
  return ::testing::AssertionFailure() << what << ": " << where << " (" << rec.last_message() << ")";
}

TEST(CApiMisuse, TheReportedCallerIsTheCodeThatCalledPfalloc) {
  // Not a death test, so it needs the instances in this process: it takes
  // them as capi_test left them, or sets them up (then capi_test, if it
  // runs later in this process, finds them up: its SetUpTestSuite would
  // fail). Run it in a child to keep the two apart.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        c_api_up();
        bool ok = true;
        auto check = [&](::testing::AssertionResult r) {
          if (!r) {
            std::fprintf(stderr, "%s\n", r.message());
            ok = false;
          }
        };
        {
          test::ErrorRecorder rec;
          int on_stack = 0;
          kfree_foreign_here(&on_stack);
          check(CallerInside(rec, reinterpret_cast<const void*>(&kfree_foreign_here), "kfree"));
        }
        {
          test::ErrorRecorder rec;
          kmem_cache* a = kmem_cache_create("who-a", 16, 0, 0, nullptr);
          kmem_cache* b = kmem_cache_create("who-b", 16, 0, 0, nullptr);
          void* obj = kmem_cache_alloc(a, GFP_KERNEL);
          cache_free_wrong_here(b, obj);
          check(CallerInside(rec, reinterpret_cast<const void*>(&cache_free_wrong_here), "kmem_cache_free"));
        }
        {
          test::ErrorRecorder rec;
          const pf_phys_t p = alloc_pages(0, GFP_KERNEL);
          free_pages(p, 0);
          free_pages_twice_here(p);
          check(CallerInside(rec, reinterpret_cast<const void*>(&free_pages_twice_here), "free_pages"));
        }
        {
          test::ErrorRecorder rec;
          const pf_phys_t p = alloc_contig(3, 0, 0, 0, GFP_KERNEL);
          free_contig_short_here(p);
          check(CallerInside(rec, reinterpret_cast<const void*>(&free_contig_short_here), "free_contig"));
          free_contig(p, 3);
        }
        std::exit(ok ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "");
}

}  // namespace
}  // namespace pf
