// slab_uninit_test.cpp — the frees of a slab layer bound to no page
// allocator (never initialised, or torn down with nothing live): kfree,
// kfree_sized and cache_free of a non-null pointer are refused by name
// (invalid-argument), nothing is read through the pointer or the cache
// handle, nothing is freed, and verify() holds (lookup_ in slab.hpp).
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"
#include "tests/unit/slab_fixture.hpp"
#include "tests/unit/support.hpp"

namespace pf::test {
namespace {

// Every free of p (non-null) on an unbound slab layer: one InvalidArgument
// report each, naming the call and that the layer is not initialised.
void expect_every_free_refused(SlabAllocator& slab, void* p) {
  // Never dereferenced: no cache exists (an unmapped, odd address would
  // fault if it were).
  auto* garbage = reinterpret_cast<KmemCache*>(uintptr_t{0xdead0000beef1});
  struct Call {
    const char* op;
    void (*run)(SlabAllocator&, void*, KmemCache*);
  };
  const Call calls[] = {
      {"kfree", [](SlabAllocator& s, void* q, KmemCache*) { s.kfree(q); }},
      {"kfree_sized", [](SlabAllocator& s, void* q, KmemCache*) { s.kfree_sized(q, 8); }},
      {"kfree_sized", [](SlabAllocator& s, void* q, KmemCache*) { s.kfree_sized(q, 200); }},
      // A size no class has: the slow path directly.
      {"kfree_sized", [](SlabAllocator& s, void* q, KmemCache*) { s.kfree_sized(q, 100000); }},
      {"kfree_sized", [](SlabAllocator& s, void* q, KmemCache*) { s.kfree_sized(q, 0); }},
      {"kmem_cache_free", [](SlabAllocator& s, void* q, KmemCache* c) { s.cache_free(c, q); }},
      {"kmem_cache_free", [](SlabAllocator& s, void* q, KmemCache*) { s.cache_free(nullptr, q); }},
  };
  for (const Call& call : calls) {
    ErrorRecorder rec;
    call.run(slab, p, garbage);
    ASSERT_EQ(rec.count(), 1u) << call.op << " of " << p;
    EXPECT_EQ(rec.last_code(), ErrorCode::InvalidArgument) << call.op;
    EXPECT_NE(rec.last_message().find(call.op), std::string::npos) << rec.last_message();
    EXPECT_NE(rec.last_message().find("not initialised"), std::string::npos) << rec.last_message();
    EXPECT_EQ(rec.last().address, reinterpret_cast<uintptr_t>(p));
  }
}

// The frees of null do nothing, initialised or not (no report).
void expect_null_frees_silent(SlabAllocator& slab) {
  ErrorRecorder rec;
  slab.kfree(nullptr);
  slab.kfree_sized(nullptr, 8);
  slab.kfree_sized(nullptr, 100000);
  slab.cache_free(nullptr, nullptr);
  slab.cache_free(reinterpret_cast<KmemCache*>(uintptr_t{0xdead0000beef1}), nullptr);
  EXPECT_EQ(rec.count(), 0u);
}

TEST(SlabUninitialised, FreesOfAnyPointerAreRefusedByNameAndChangeNothing) {
  auto slab = std::make_unique<SlabAllocator>();
  ASSERT_FALSE(slab->initialised());
  expect_null_frees_silent(*slab);

  // On the stack, in a malloc'd buffer: their bytes stay as they were.
  unsigned char on_stack[256];
  std::memset(on_stack, 0x5a, sizeof on_stack);
  auto* heap = static_cast<unsigned char*>(std::malloc(4096));
  ASSERT_NE(heap, nullptr);
  std::memset(heap, 0xa5, 4096);
  expect_every_free_refused(*slab, on_stack);
  expect_every_free_refused(*slab, heap);
  for (unsigned char b : on_stack) ASSERT_EQ(b, 0x5a);
  for (size_t i = 0; i < 4096; ++i) ASSERT_EQ(heap[i], 0xa5);
  std::free(heap);
  // Addresses that look like a direct map's, mapped nowhere here: a read
  // of them (or of their frame's descriptor) would fault.
  for (uintptr_t a : {uintptr_t{0x100000}, uintptr_t{0xffff888000100040}, uintptr_t{0xffffffff80001000}})
    expect_every_free_refused(*slab, reinterpret_cast<void*>(a));

  EXPECT_TRUE(SlabVerified(*slab));
}

TEST(SlabUninitialised, AfterTeardownFreesAreRefusedAndFreeNothing) {
  auto machine = Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(machine->ok());
  auto slab = std::make_unique<SlabAllocator>();
  ASSERT_EQ(slab->init(machine->pages(), SlabConfig{.cpu_count = 2}), PF_OK);
  // Objects it handed out, in a slab and a large block, freed before teardown.
  std::vector<void*> were;
  for (size_t size : {size_t{8}, size_t{64}, size_t{1024}, size_t{4096}, size_t{65536}}) {
    void* p = slab->kmalloc(size, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    were.push_back(p);
  }
  for (void* p : were) slab->kfree(p);
  ASSERT_EQ(slab->teardown(), 0u);
  ASSERT_FALSE(slab->initialised());
  EXPECT_TRUE(SlabVerified(*slab));
  const uint64_t free_before = machine->free_frames();

  expect_null_frees_silent(*slab);
  for (void* p : were) expect_every_free_refused(*slab, p);
  int local = 0;
  expect_every_free_refused(*slab, &local);

  EXPECT_EQ(machine->free_frames(), free_before);
  EXPECT_TRUE(Verified(machine->pages()));
  EXPECT_TRUE(SlabVerified(*slab));

  // Bound again, it works as before.
  ASSERT_EQ(slab->init(machine->pages(), SlabConfig{.cpu_count = 2}), PF_OK);
  void* p = slab->kmalloc(64, GFP_KERNEL);
  ASSERT_NE(p, nullptr);
  slab->kfree(p);
  EXPECT_TRUE(SlabVerified(*slab));
  EXPECT_EQ(slab->teardown(), 0u);
}

// The C API's form: a layer made for one page allocator (its unbound table
// that allocator's init table, no memory of its own): refused alike while
// the owner is uninitialised (its table empty) and while it is initialised
// but the layer is not (its table real: a frame it finds carries no slab
// of this layer); init accepts no other page allocator.
TEST(SlabUninitialised, ALayerMadeForAnOwnerRefusesFreesThroughTheOwnersTable) {
  auto owner = std::make_unique<PageAllocator>();
  auto early = std::make_unique<SlabAllocator>(*owner);
  expect_null_frees_silent(*early);
  int local = 0;
  expect_every_free_refused(*early, &local);
  expect_every_free_refused(*early, reinterpret_cast<void*>(uintptr_t{0xffff888000100040}));
  EXPECT_TRUE(SlabVerified(*early));

  auto machine = Machine::with_ram(16 * MiB, 2);
  ASSERT_TRUE(machine->ok());
  EXPECT_EQ(early->init(machine->pages(), SlabConfig{.cpu_count = 2}), PF_ERR_BAD_CONFIG);
  EXPECT_FALSE(early->initialised());
  EXPECT_TRUE(SlabVerified(*early));

  auto slab = std::make_unique<SlabAllocator>(machine->pages());
  const uint64_t free_unbound = machine->free_frames();
  // The owner is initialised, the layer not: every frame of its memory.
  for (uint64_t phys = 1 * MiB; phys < 17 * MiB; phys += 256 * 1024)
    expect_every_free_refused(*slab, machine->pages().to_virt<void>(PhysAddr{phys + 64}));
  EXPECT_EQ(machine->free_frames(), free_unbound);
  EXPECT_TRUE(SlabVerified(*slab));

  ASSERT_EQ(slab->init(machine->pages(), SlabConfig{.cpu_count = 2}), PF_OK);
  std::vector<void*> were;
  for (size_t size : {size_t{64}, size_t{4096}, size_t{65536}}) {
    void* p = slab->kmalloc(size, GFP_KERNEL);
    ASSERT_NE(p, nullptr);
    were.push_back(p);
  }
  for (void* p : were) slab->kfree(p);
  ASSERT_EQ(slab->teardown(), 0u);
  EXPECT_TRUE(SlabVerified(*slab));
  EXPECT_EQ(machine->free_frames(), free_unbound);
  for (void* p : were) expect_every_free_refused(*slab, p);
  EXPECT_EQ(machine->free_frames(), free_unbound);
  EXPECT_TRUE(Verified(machine->pages()));
}

}  // namespace
}  // namespace pf::test
