// slab_cases.cpp — slab-layer conformance cases, written once and run both
// under GoogleTest (kmalloc_test.cpp, SlabConformance) and inside the booted
// kernel. Freestanding: no gtest, no libc, no std containers; ctx.slab is
// the SlabAllocator under test.
//
// The sequences follow Zig's std.heap allocator test helpers: many small
// allocations, an array of pointers grown to 20000 entries with its contents
// kept, shrinking 50 -> 25 -> 0 and allocating again from empty, every
// alignment 1..64 through grow/shrink/free, half-page alignment kept while
// growing to 5000 and 20000 bytes, and an in-place shrink that keeps its
// bytes. Then Bonwick's object caching, and caches of every alignment.
//
// Each case frees everything it allocates and destroys its caches. What it
// leaves in per-CPU arrays and reserve slabs is the runner's to drain: a
// runner compares free frames after SlabAllocator::shrink_all() on both
// sides of a case.
#include <cstddef>
#include <cstdint>

#include "kernel/mm/slab.hpp"
#include "tests/conformance/facade.hpp"

namespace {

using pf::SlabAllocator;
using pf::conformance::Context;

void fill(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<unsigned char>(seed * 31 + i * 13 + (i >> 8));
}
bool intact(const void* p, size_t n, uint64_t seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != static_cast<unsigned char>(seed * 31 + i * 13 + (i >> 8))) return false;
  return true;
}
bool aligned(const void* p, size_t align) { return (reinterpret_cast<uintptr_t>(p) & (align - 1)) == 0; }

// What a refused allocation needed of the buddy (Context::out_of_memory):
// a new slab of the cache's smallest layout (and its header), or, for
// kmalloc above the slab classes, the large block.
pf::conformance::MemoryNeed slab_need(const pf::KmemCache* c) {
  return pf::conformance::MemoryNeed::block(c->min_slab_order(), true);
}
pf::conformance::MemoryNeed kmalloc_need(const SlabAllocator& s, size_t size, size_t align = 8) {
  if (const pf::KmemCache* c = s.kmalloc_cache_for_aligned(size, align)) return slab_need(c);
  return pf::conformance::MemoryNeed::block(
      SlabAllocator::kmalloc_large_order(size, align > pf::kPageSize ? align : pf::kPageSize));
}

}  // namespace

PF_SLAB_CONFORMANCE_CASE(slab_hundred_small_allocations) {
  SlabAllocator& s = *ctx.slab;
  void* objs[100];
  for (unsigned i = 0; i < 100; ++i) {
    const size_t size = 1 + i % 40;
    objs[i] = s.kmalloc(size, GFP_KERNEL);
    if (!PF_CHECK_MEMORY(ctx, objs[i] != nullptr, kmalloc_need(s, size))) {
      for (unsigned j = 0; j < i; ++j) s.kfree(objs[j]);
      return;
    }
    PF_CHECK(ctx, s.ksize(objs[i]) >= size);
    PF_CHECK(ctx, aligned(objs[i], 8));
    fill(objs[i], size, i);
  }
  for (unsigned i = 0; i < 100; ++i) {
    PF_CHECK(ctx, intact(objs[i], 1 + i % 40, i));
    s.kfree(objs[i]);
  }
}

PF_SLAB_CONFORMANCE_CASE(slab_pointer_array_grows_to_20000) {
  SlabAllocator& s = *ctx.slab;
  auto** slots = static_cast<uint32_t**>(s.kmalloc(100 * sizeof(uint32_t*), GFP_KERNEL));
  if (!PF_CHECK_MEMORY(ctx, slots != nullptr, kmalloc_need(s, 100 * sizeof(uint32_t*)))) return;
  for (uint32_t i = 0; i < 100; ++i) {
    slots[i] = static_cast<uint32_t*>(s.kmalloc(sizeof(uint32_t), GFP_KERNEL));
    if (!PF_CHECK_MEMORY(ctx, slots[i] != nullptr, kmalloc_need(s, sizeof(uint32_t)))) {
      for (uint32_t j = 0; j < i; ++j) s.kfree(slots[j]);
      s.kfree(slots);
      return;
    }
    *slots[i] = i * 2654435761u;
  }
  // Grow in steps, as a vector would, and in one leap to 20000.
  size_t len = 100;
  for (size_t target : {size_t{250}, size_t{1000}, size_t{4000}, size_t{20000}}) {
    auto** grown = static_cast<uint32_t**>(s.krealloc(slots, target * sizeof(uint32_t*), GFP_KERNEL));
    // (A tiny machine with many CPUs may have no block of order 6 for the
    // last step once the earlier ones and the per-CPU refills took theirs.)
    if (!PF_CHECK_MEMORY(ctx, grown != nullptr, kmalloc_need(s, target * sizeof(uint32_t*)))) break;
    slots = grown;
    len = target;
    PF_CHECK(ctx, s.ksize(slots) >= len * sizeof(uint32_t*));
    for (uint32_t i = 0; i < 100; ++i) PF_CHECK(ctx, *slots[i] == i * 2654435761u);
  }
  if (ctx.skip_reason == nullptr) PF_CHECK(ctx, len == 20000);
  for (uint32_t i = 0; i < 100; ++i) s.kfree(slots[i]);
  s.kfree(slots);
}

PF_SLAB_CONFORMANCE_CASE(slab_shrink_to_zero_and_allocate_from_empty) {
  SlabAllocator& s = *ctx.slab;
  auto* p = static_cast<uint64_t*>(s.kmalloc(50 * sizeof(uint64_t), GFP_KERNEL));
  if (!PF_CHECK_MEMORY(ctx, p != nullptr, kmalloc_need(s, 50 * sizeof(uint64_t)))) return;
  for (uint64_t i = 0; i < 50; ++i) p[i] = i ^ 0xa5a5;
  auto* q = static_cast<uint64_t*>(s.krealloc(p, 25 * sizeof(uint64_t), GFP_KERNEL));
  PF_CHECK(ctx, q == p);  // a shrink stays in place
  for (uint64_t i = 0; i < 25; ++i) PF_CHECK(ctx, q[i] == (i ^ 0xa5a5));
  PF_CHECK(ctx, s.krealloc(q, 0, GFP_KERNEL) == nullptr);  // freed
  // From empty: krealloc(nullptr, n) allocates.
  auto* r = static_cast<uint64_t*>(s.krealloc(nullptr, 50 * sizeof(uint64_t), GFP_KERNEL));
  if (!PF_CHECK_MEMORY(ctx, r != nullptr, kmalloc_need(s, 50 * sizeof(uint64_t)))) return;
  for (uint64_t i = 0; i < 50; ++i) r[i] = i;
  auto* t = static_cast<uint64_t*>(s.krealloc(r, 3000 * sizeof(uint64_t), GFP_KERNEL));
  if (PF_CHECK_MEMORY(ctx, t != nullptr, kmalloc_need(s, 3000 * sizeof(uint64_t)))) r = t;
  for (uint64_t i = 0; i < 50; ++i) PF_CHECK(ctx, r[i] == i);
  s.kfree(r);
  PF_CHECK(ctx, s.kmalloc(0, GFP_KERNEL) == nullptr);
}

PF_SLAB_CONFORMANCE_CASE(slab_every_alignment_to_64_through_grow_and_shrink) {
  SlabAllocator& s = *ctx.slab;
  for (size_t align = 1; align <= 64; align *= 2) {
    void* p = s.kmalloc_aligned(10, align, GFP_KERNEL);
    if (!PF_CHECK_MEMORY(ctx, p != nullptr, kmalloc_need(s, 10, align))) return;
    PF_CHECK(ctx, aligned(p, align));
    fill(p, 10, align);
    void* q = s.krealloc_aligned(p, 100, align, GFP_KERNEL);
    if (!PF_CHECK_MEMORY(ctx, q != nullptr, kmalloc_need(s, 100, align))) {
      s.kfree(p);
      return;
    }
    PF_CHECK(ctx, aligned(q, align));
    PF_CHECK(ctx, intact(q, 10, align));
    fill(q, 100, align + 1);
    void* r = s.krealloc_aligned(q, 10, align, GFP_KERNEL);
    PF_CHECK(ctx, r == q);
    PF_CHECK(ctx, intact(r, 10, align + 1));
    PF_CHECK(ctx, s.krealloc_aligned(r, 0, align, GFP_KERNEL) == nullptr);
  }
}

PF_SLAB_CONFORMANCE_CASE(slab_half_page_alignment_kept_while_growing) {
  SlabAllocator& s = *ctx.slab;
  const size_t align = pf::kPageSize / 2;
  void* p = s.kmalloc_aligned(500, align, GFP_KERNEL);
  if (!PF_CHECK_MEMORY(ctx, p != nullptr, kmalloc_need(s, 500, align))) return;
  PF_CHECK(ctx, aligned(p, align));
  fill(p, 100, 7);
  p = s.krealloc_aligned(p, 100, align, GFP_KERNEL);  // a shrink: in place, never null
  PF_CHECK(ctx, p != nullptr && aligned(p, align));
  void* q = s.krealloc_aligned(p, 5000, align, GFP_KERNEL);
  if (!PF_CHECK_MEMORY(ctx, q != nullptr, kmalloc_need(s, 5000, align))) {
    s.kfree(p);
    return;
  }
  PF_CHECK(ctx, aligned(q, align));
  PF_CHECK(ctx, intact(q, 100, 7));
  fill(q, 10, 8);
  q = s.krealloc_aligned(q, 10, align, GFP_KERNEL);
  void* r = s.krealloc_aligned(q, 20000, align, GFP_KERNEL);
  if (!PF_CHECK_MEMORY(ctx, r != nullptr, kmalloc_need(s, 20000, align))) {
    s.kfree(q);
    return;
  }
  PF_CHECK(ctx, aligned(r, align));
  PF_CHECK(ctx, intact(r, 10, 8));
  s.kfree(r);
}

PF_SLAB_CONFORMANCE_CASE(slab_in_place_shrink_keeps_bytes) {
  SlabAllocator& s = *ctx.slab;
  // Zig's sizes: two pages and 50 bytes (a large block), 16-aligned; then a
  // slab object, shrunk within its class.
  for (size_t size : {2 * pf::kPageSize + 50, size_t{8000}}) {
    auto* p = static_cast<unsigned char*>(s.kmalloc_aligned(size, 16, GFP_KERNEL));
    if (!PF_CHECK_MEMORY(ctx, p != nullptr, kmalloc_need(s, size, 16))) return;
    PF_CHECK(ctx, aligned(p, 16));
    p[0] = 0x12;
    p[60] = 0x34;
    p[size - 1] = 0x56;
    auto* q = static_cast<unsigned char*>(s.krealloc_aligned(p, size - 3000, 16, GFP_KERNEL));
    PF_CHECK(ctx, q == p);
    PF_CHECK(ctx, q[0] == 0x12 && q[60] == 0x34);
    s.kfree(q);
  }
}

namespace {
uint64_t g_constructed = 0;  // the kernel runs cases on one CPU
constexpr uint64_t kConstructedMagic = 0xc0ffee00c0ffee00ull;
struct Node {
  uint64_t magic;
  Node* next;
  uint64_t payload[5];
};
void node_ctor(void* p) {
  auto* n = static_cast<Node*>(p);
  n->magic = kConstructedMagic;
  n->next = nullptr;
  for (uint64_t& w : n->payload) w = 0;
  ++g_constructed;
}
}  // namespace

PF_SLAB_CONFORMANCE_CASE(slab_constructor_once_per_object_per_slab) {
  SlabAllocator& s = *ctx.slab;
  g_constructed = 0;
  pf::KmemCache* c = s.cache_create("conformance-node", sizeof(Node), 0, 0, node_ctor);
  if (!PF_CHECK_MEMORY(ctx, c != nullptr, pf::conformance::MemoryNeed::cache(sizeof(Node), 0))) return;
  const size_t per = c->objects_per_slab();
  const size_t n = 3 * per;
  auto** objs = static_cast<Node**>(s.kmalloc(n * sizeof(Node*), GFP_KERNEL));
  if (!PF_CHECK_MEMORY(ctx, objs != nullptr, kmalloc_need(s, n * sizeof(Node*)))) {
    s.cache_destroy(c);
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    objs[i] = static_cast<Node*>(s.cache_alloc(c, GFP_KERNEL));
    if (!PF_CHECK_MEMORY(ctx, objs[i] != nullptr, slab_need(c))) {
      for (size_t j = 0; j < i; ++j) s.cache_free(c, objs[j]);
      s.kfree(objs);
      s.cache_destroy(c);
      return;
    }
    PF_CHECK(ctx, objs[i]->magic == kConstructedMagic);
  }
  PF_CHECK(ctx, g_constructed == s.stats(c).total_slabs * per);
  // Free every other object and allocate again, three times: no slab
  // empties (so none is given back and rebuilt), and every object comes
  // back in its constructed state without the constructor running again.
  const uint64_t constructed = g_constructed;
  // (After a refusal every slot of the round is null: the ones after it
  // were freed above, and the final loop must not free them again.)
  bool stop = false;
  for (int round = 0; round < 3 && !stop; ++round) {
    for (size_t i = round % 2; i < n; i += 2) s.cache_free(c, objs[i]);
    for (size_t i = round % 2; i < n; i += 2) {
      objs[i] = stop ? nullptr : static_cast<Node*>(s.cache_alloc(c, GFP_KERNEL));
      if (stop) continue;
      if (!PF_CHECK_MEMORY(ctx, objs[i] != nullptr, slab_need(c))) {
        stop = true;
        continue;
      }
      PF_CHECK(ctx, objs[i]->magic == kConstructedMagic && objs[i]->next == nullptr);
    }
  }
  PF_CHECK(ctx, g_constructed == constructed);
  for (size_t i = 0; i < n; ++i)
    if (objs[i] != nullptr) s.cache_free(c, objs[i]);
  s.kfree(objs);
  PF_CHECK(ctx, s.cache_destroy(c) == 0);
}

PF_SLAB_CONFORMANCE_CASE(slab_caches_of_every_alignment) {
  SlabAllocator& s = *ctx.slab;
  pf::conformance::Rng rng(ctx.seed);
  for (size_t align = 8; align <= pf::kPageSize; align *= 2) {
    const size_t size = 1 + rng.below(3 * align);
    pf::KmemCache* c = s.cache_create("conformance-align", size, align, 0, nullptr);
    if (!PF_CHECK_MEMORY(ctx, c != nullptr, pf::conformance::MemoryNeed::cache(size, align))) return;
    void* objs[24];
    size_t got = 0;
    for (; got < 24; ++got) {
      objs[got] = s.cache_alloc(c, GFP_KERNEL);
      if (!PF_CHECK_MEMORY(ctx, objs[got] != nullptr, slab_need(c))) break;
      PF_CHECK(ctx, aligned(objs[got], align));
      PF_CHECK(ctx, s.cache_of(objs[got]) == c);
      fill(objs[got], size, got + align);
    }
    // Free in a random order (Fisher-Yates over the seed).
    for (size_t i = got; i > 1; --i) {
      const size_t j = rng.below(i);
      void* t = objs[i - 1];
      objs[i - 1] = objs[j];
      objs[j] = t;
    }
    for (size_t i = 0; i < got; ++i) {
      // The pattern's seed is lost in the shuffle: find it by checking all.
      bool ok = false;
      for (size_t k = 0; k < got && !ok; ++k) ok = intact(objs[i], size, k + align);
      PF_CHECK(ctx, ok);
      s.cache_free(c, objs[i]);
    }
    PF_CHECK(ctx, s.cache_destroy(c) == 0);
    if (ctx.skip_reason != nullptr) return;  // out of memory: no larger ones
  }
}
