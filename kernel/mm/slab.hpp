// slab.hpp — the object allocator over the buddy: kmem caches (Bonwick's
// object caching), per-CPU object arrays in front of each cache, the kmalloc
// size classes, and large kmalloc blocks taken whole from the buddy.
//
// Owns: every KmemCache (the records themselves live in slabs of a bootstrap
// "kmem_cache" cache whose own record is a member of SlabAllocator), the
// slabs (blocks whose head descriptor says Slab), the off-slab slab headers
// (from a second bootstrap cache, "kmem_slab"), the per-CPU object arrays
// (one buddy block per cache), and the head descriptors of kmalloc's large
// blocks (state Allocated, owner == kOwnerKmallocLarge).
//
// Layout of a slab: a block of 2^order frames (order <= kMaxSlabOrder),
// naturally aligned because the buddy only hands out aligned blocks. A
// cache prefers order_ (objs_per_slab_ objects, at least 8 up to order 3);
// when no such block is free it falls back, as SLUB's allocate_slab does,
// to min_order_ (the smallest order holding one object: 0 for objects up to
// a page), so an allocation fails only when no block of min_order_ exists.
// The preferred attempt neither warns nor drains the CPUs' page caches
// (__GFP_NOWARN | __GFP_NORETRY). When even the fallback fails (or a large
// block cannot be had), an allocation that may reclaim gives back what
// every cache keeps for speed and runs once more (slab_reclaim.cpp; the
// design is in reclaim.hpp). Each slab records its own order, object
// count and object bytes (struct slab_detail::Slab), and every per-slab
// computation (lookup, freelist, tail tags, verify) uses those. Objects
// start at block + colour and sit `stride` bytes apart. The slab header
// (struct slab_detail::Slab) is an object of kmem_slab ("off-slab"), out of
// line, so no overflow of an object reaches it; only the two bootstrap caches
// (kmem_cache, kmem_slab) keep it at the end of their blocks ("on-slab"). The
// head descriptor points at it.
// While a head descriptor says Slab:
//   owner == cache id, aux == objects in use, (link_prev:link_next) == header;
// and every tail frame of the slab (state Tail) carries
//   owner == cache id, (link_prev:link_next) == header (aux 0),
// so an object in any frame finds its header with one descriptor read; the
// tags are cleared before the block goes back to the buddy (whose Tail
// descriptors are otherwise all zero).
// An object's slab is found in O(1) from its address: its frame's
// descriptor (head or tagged tail, below) names the header. Anything else
// (a bad pointer) is located by the block walk: every frame of a block but
// the head is Tail, so the head is the first non-Tail frame among
// pfn & ~(2^k - 1) for k = 0..kMaxOrder.
//
// Invariants (verify()):
//   per slab:  inuse + |freelist| == objects (the slab's own count); the
//              freelist holds distinct objects of this slab, each at an
//              object boundary;
//   per slab:  (order, objects) == (order_, objs_per_slab_) (preferred) or
//              (min_order_, min_objs_) (fallback); starts == objects * stride excess;
//              order == head->order;
//   per slab:  on `full` iff inuse == objects, on `empty` iff inuse == 0,
//              on `partial` otherwise;
//   per cache: slab_count == |partial| + |full| + |empty|;
//              array_key == freelist_key ^ kInArray;
//              total_objects == sum of slab objects; fallback_slabs == the
//              slabs of the minimum layout (when it differs);
//              inuse == sum of slab inuse == live objects + objects in per-CPU
//              arrays + objects in the depot;
//              every per-CPU or depot entry is an object of this cache that is
//              on no freelist and in no other entry; depot_count_ <= depot_limit_;
//              a depot entry's link slot decodes to its own address (kInDepot);
//              spread_mask == spread_mask_for(stride) iff free_offset == 0,
//              else 0 (where the link slot lies: slab_detail::LinkAt);
//   active objects (slabinfo) == inuse - objects in per-CPU arrays - depot, exactly.
//
// Object caching: a constructor runs once per object when its slab is
// populated, never on allocation. Free objects keep their constructed state:
// for caches with a constructor the freelist link is stored past the object
// (at free_offset >= object size), as Linux does, so it never overwrites it.
// Constructors run with this CPU's gate lock held (interrupts masked; grow
// takes it when its caller did not) and the gate marked busy
// (CpuGate::set_owner_busy_locked): they must not call into the slab layer.
// Such a call, which would wait for the lock its own CPU holds (or, into
// the cache being grown, recurse without end), finds its fast path closed
// by the mark and is refused by name in its slow path (called_from_ctor:
// invalid-argument; null, nothing freed). Callers without a CPU (the shared
// gate) are not marked: one of them cannot be told from another.
//
// Per-CPU arrays: every cache has cpu_count + 1 (the last shared by callers
// without a CPU); CPU i's arrays of every cache sit behind the allocator's
// CpuGate i (cpu_cache.hpp): the owner's fast path takes no lock; its slow
// paths take the gate's lock; anyone else stops the owner through it.
// Lock order, outermost first (shrink_all holds caches_lock_ only to step
// from one pinned cache to the next, never across a shrink):
//   caches_lock_ (the list of caches) -> per-CPU gates (in CPU index order
//   when several are held) -> a cache's node lock -> PageAllocator locks
//   (per-CPU page gate -> zone).
// fork_prepare alone holds every node lock at once (bootstrap caches, then
// the list in order); nothing else ever holds two, so no cycle can form.
// Two node locks are never held together otherwise: slabs are grown and released
// (pages and off-slab headers) with the node lock dropped. Every lock masks
// interrupts while held (LockGuard), so an interrupt handler may allocate.
//
// Alignment every kmalloc size gets (size classes below): a class's objects
// are aligned to the largest power of two dividing the class size, at most
// 4096: 8->8, 16->16, 24->8, 32->32, 48->16, 64->64, 96->32, 128->128,
// 192->64, 256->256, 384->128, 512->512, 768->256, 1024->1024, 1536->512,
// 2048->2048, 3072->1024, 4096->4096, 6144->2048, 8192->4096. So a
// power-of-two size is aligned to itself (up to 4096) and every size to 8
// at least. Larger requests are whole buddy blocks, page aligned.
// kmalloc(0) returns nullptr (and kfree(nullptr) does nothing).
//
// Always-on checks (every cache, every build), each reported through
// pf::report() with the caller, and the call refused with nothing changed:
//   slab-double-free       the object is on top of this CPU's array, or is
//                          the slab's freelist head, or its slab is empty;
//                          ksize / krealloc of an object that is free (in an
//                          array, the depot or on its freelist: object_is_free);
//   slab-not-object-start  inside a slab (or a large block) but not at an
//                          object's first byte;
//   slab-not-a-slab-page   the frame is unmanaged, free, reserved, a plain
//                          alloc_pages block, or a large block given to
//                          kmem_cache_free;
//   slab-wrong-cache       kmem_cache_free with another cache than the object's;
//   slab-wrong-size        kfree_sized with a size above ksize(p) (nothing freed);
//   invalid-argument       a cache handle that is no live cache (cache_handle_ok:
//                          destroyed, or never a cache) given to destroy,
//                          shrink, cache_free, the bulk calls, or (a destroyed
//                          one) cache_alloc; a bulk call's null array;
//                          kfree, kfree_sized, kmem_cache_free of a
//                          non-null pointer before init (or after a failed
//                          init, or a teardown): nothing to look it up in
//                          (lookup_ sends it to the slow path);
//   slab-cache-handle      kfree of a kmem_cache handle (slab-internal-object:
//                          of a slab header);
//   slab-double-free       also later: every free object's link slot is
//                          encoded with the cache's key and its own address
//                          and says "in a per-CPU array", "in the depot" or
//                          "on the freelist" (see looks_free and kInDepot in
//                          slab.cpp), so a double free is caught at the
//                          second free however long after the first, on any
//                          CPU; only two frees racing on two CPUs can slip by
//                          (caught when the array gives the object to the
//                          depot or its slab, or the depot gives it on:
//                          slab-delayed-double-free, the duplicate dropped);
//   slab-freelist-corrupted  a link that decodes to no object of its slab
//                          (an overflow into a free neighbour): never
//                          followed; the rest of that slab's freelist is
//                          quarantined (debug caches rebuild it).
// Links are encoded in every cache (SLAB_FREELIST_HARDENED by default), with
// a per-cache key derived from SlabConfig::freelist_seed (pf_config.random_seed).
//
// Debug caches (SLAB_DEBUG, or SlabConfig::debug for every cache) trade
// speed for checks. They have no per-CPU arrays: every allocation and free
// goes to the slab under the node lock, where each object's state is known.
// Object layout (stride = align_up(end, align)):
//   [0, size)                 the object; free objects are poisoned 0x6b
//                             (unless the cache has a constructor)
//   [size, rz_end)            right redzone, 0xbb, rz_end = align8(size) + 16;
//                             for kmalloc it starts at the requested size
//   [rz_end, +8)              freelist link, stored as next ^ key ^ &link
//   [rz_end + 8, +24)         track: alloc caller, free caller, requested size, state
// Found, by name: slab-delayed-double-free (state already free),
// slab-redzone-overwritten (at free, at allocation, by verify()),
// slab-write-after-free (poison changed when the object is handed out
// again), slab-freelist-corrupted (a link that decodes to no object of its
// slab: the freelist is rebuilt from the objects' states). Destroy and
// teardown list live objects with size and allocating caller. In a debug
// cache ksize() is the requested size. init_on_alloc / init_on_free
// (SlabConfig) zero objects of every cache without a constructor.
#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>

#include "cpu_cache.hpp"
#include "error.hpp"
#include "frame.hpp"
#include "page_alloc.hpp"
#include "pfalloc.h"
#include "spinlock.hpp"
#include "text.hpp"
#include "types.hpp"

namespace pf {

class PageAllocator;
class SlabAllocator;
class KmemCache;

// May an allocation with these flags that failed for lack of memory
// reclaim the slab caches and run once more (reclaim.hpp)? Not under
// __GFP_NORECLAIM (GFP_ATOMIC, GFP_NOWAIT) nor __GFP_NORETRY.
constexpr bool may_reclaim(gfp_t flags) { return (flags & (__GFP_NORECLAIM | __GFP_NORETRY)) == 0; }

using ObjectCtor = void (*)(void*);

// ---- kmalloc size classes ---------------------------------------------------
inline constexpr std::array<uint32_t, 20> kKmallocSizes = {
    8,   16,  24,   32,   48,   64,   96,   128,  192,  256,
    384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192};
inline constexpr size_t kKmallocClassCount = kKmallocSizes.size();
inline constexpr size_t kKmallocMaxSize = kKmallocSizes.back();

// Not std::has_single_bit: without SSE (kernel flags) that is a libgcc call.
constexpr bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

// The alignment a class delivers: the lowest set bit of its size, capped at a page.
constexpr uint32_t kmalloc_class_align(uint32_t size) {
  uint32_t low = size & (~size + 1);
  return low < kPageSize ? low : static_cast<uint32_t>(kPageSize);
}

// Bytes of a slab header, on the slab or in kmem_slab.
inline constexpr size_t kSlabHeaderSize = 64;

namespace slab_detail {
constexpr bool classes_sorted_and_aligned() {
  for (size_t i = 0; i < kKmallocClassCount; ++i) {
    if (kKmallocSizes[i] % 8 != 0) return false;
    if (i > 0 && kKmallocSizes[i] <= kKmallocSizes[i - 1]) return false;
    // Power-of-two classes up to a page are naturally aligned.
    if (is_power_of_two(kKmallocSizes[i]) &&
        kmalloc_class_align(kKmallocSizes[i]) != (kKmallocSizes[i] < kPageSize ? kKmallocSizes[i] : kPageSize))
      return false;
  }
  // Every power of two from 8 to the largest class is a class, so a
  // power-of-two request gets exactly its own alignment.
  for (uint32_t p = 8; p <= kKmallocMaxSize; p *= 2) {
    bool found = false;
    for (uint32_t s : kKmallocSizes) found = found || s == p;
    if (!found) return false;
  }
  return kKmallocSizes[0] == 8 && kKmallocMaxSize >= 8192;
}
static_assert(classes_sorted_and_aligned(),
              "kmalloc classes: sorted, multiples of 8, every power of two 8..8192 present");

// Small sizes: class index by (size + 7) / 8, one byte per entry.
inline constexpr size_t kSmallLookupLimit = 512;
constexpr std::array<uint8_t, kSmallLookupLimit / 8 + 1> make_small_lookup() {
  std::array<uint8_t, kSmallLookupLimit / 8 + 1> t{};
  for (size_t i = 0; i < t.size(); ++i) {
    size_t size = i * 8;
    size_t c = 0;
    while (kKmallocSizes[c] < size) ++c;
    t[i] = static_cast<uint8_t>(c);
  }
  return t;
}
inline constexpr auto kSmallLookup = make_small_lookup();

// Index of the smallest class that holds `size` (1 <= size <= kKmallocMaxSize).
// Above kSmallLookupLimit the classes are 2^n and 1.5 * 2^n, so the class is
// found from the bit width of size - 1.
constexpr size_t kmalloc_class_index(size_t size) {
  if (size <= kSmallLookupLimit) return kSmallLookup[(size + 7) >> 3];
  unsigned n = static_cast<unsigned>(std::bit_width(size - 1));  // 2^(n-1) < size <= 2^n
  size_t pow2_index = static_cast<size_t>(kSmallLookup[kSmallLookupLimit >> 3]) + 2 * (n - 9);
  size_t three_halves = size_t{3} << (n - 2);
  return size <= three_halves ? pow2_index - 1 : pow2_index;
}

constexpr bool lookup_is_exact() {
  for (size_t size = 1; size <= kKmallocMaxSize; ++size) {
    size_t c = kmalloc_class_index(size);
    if (c >= kKmallocClassCount || kKmallocSizes[c] < size) return false;
    if (c > 0 && kKmallocSizes[c - 1] >= size) return false;
  }
  return true;
}
static_assert(lookup_is_exact(), "size -> class lookup must pick the smallest class that fits");

// A CPU's per-CPU arrays of free objects in one cache: the per-CPU stack
// pair both layers use (cpu_cache.hpp, CpuStackPair): frees (kfree,
// kfree_sized, kmem_cache_free, their slow paths) push onto `in`;
// allocations (kmalloc, kmem_cache_alloc, the bulk allocation) pop from
// `out`; an allocation that finds `out` empty while `in` holds objects turns
// the pair (the two swap roles, nothing is copied) in alloc_turn: out of
// line, but in the gate like the fast path (no lock, no atomic RMW).
// Why: a free and the next allocation then touch different words, so the
// allocation does not wait for the free's stores (store-to-load forwarding
// of the count and the entry), nor, for kfree, for the chain of loads that
// finds the array (descriptor -> header -> arrays).
// Capacity: the two stacks split what one array held (KmemCache::cpu_limit_
// is the pair's capacity, as slabinfo's "limit"; each stack holds
// stack_limit(c) == cpu_limit_ / 2), so a CPU keeps as many objects, in as
// much memory, as before (tiny machines: the arrays' block does not grow).
// A burst of cpu_limit_ frees still stays on the CPU: a full `in` with an
// empty `out` turns instead of flushing (free_slow).
// Guarded by the SlabAllocator's CpuGate of its CPU. A cache's arrays sit in
// one block: first one 64-byte line per CPU (cpu_count + 1 of them) holding
// that CPU's CpuArray, then the entries of each CPU, the two stacks' halves
// side by side (see SlabAllocator::allocate_cpu_arrays). So CPU i's arrays
// are at block + i * kCpuArrayLine: a shift, no per-cache stride to load.
// Invariants (verify()), for CPU i with entries E_i (allocate_cpu_arrays):
//   {out.slots, in.slots} == {E_i, E_i + stack_limit} (in either order: turns
//   swap them); out.size() <= stack_limit, in.size() <= stack_limit;
//   every entry of either stack is an object of the cache, marked "in an
//   array" (looks_free), in no other entry, on no freelist.
struct alignas(32) CpuArray : CpuStackPair<void*> {
  constexpr CpuArray() = default;
  // The two stacks of one CPU: `stack` entries each, from `entries` on.
  CpuArray(void** entries, uint32_t stack) {
    out.slots = entries;
    in.slots = entries + stack;
  }
};
static_assert(sizeof(CpuArray) == 32);
inline constexpr size_t kCpuArrayLine = 64;
struct alignas(kCpuArrayLine) CpuArrayLine {
  CpuArray array;
};
static_assert(sizeof(CpuArrayLine) == kCpuArrayLine);
// What the fast paths see of a cache without arrays they may use (debug,
// bootstrap, init_on_*; KmemCache::fast_cpu_): both stacks of every CPU
// empty and the cache's fast_limit_ 0, so the pop finds nothing to pop nor
// to turn and the push no room, and both take the slow path without a test
// of their own. Never written (verify() checks).
inline constinit CpuArrayLine kNoCpuArrays[kMaxCpus + 1] = {};

// A slab's header; see the layout comment at the top of this file.
// A cache's slabs come in two layouts (see grow() in slab.cpp): the
// preferred one (KmemCache::order_, objs_per_slab_) and, when no block of
// that order can be had, the minimum one (min_order_, min_objs_: the
// smallest order holding one object). So each slab records its own:
//   objects == the objects of its layout; starts == objects * stride excess (below);
//   order == head->order; the block is base rounded down to 2^order frames.
// `starts` is the bound of the free fast path's one-compare object-start
// test (SlabAllocator::at_object_start_in_block):
//   starts == objects * stride_excess(cache)  (verify()),
// stride_excess in [1, stride], so starts <= objects * stride (the slab's
// object bytes, which the slow paths compute as objects * stride).
// `cpus` is what kfree needs of the cache, one load from the header rather
// than two (header -> cache -> arrays): kfree's time is the chain of
// dependent loads from the pointer to the array it pushes onto.
//   cpus == (CpuArrayLine*)cache->cpu_, or kNoCpuArrays when the cache has
//   none (its arrays never move while it has slabs; whether the fast path
//   may push there is still the cache's fast_limit_).
// Sized to fill the 64 bytes exactly: objects, inuse <= kMaxObjectsPerSlab
// (13 bits), list < 4, order <= kMaxSlabOrder (4 bits) share one word;
// starts, which the fast paths read, has one of its own (no mask).
struct Slab {
  Slab* next;
  Slab* prev;
  KmemCache* cache;
  std::byte* base;         // first object (block start + colour)
  void* freelist;          // first free object; the links inside objects may be encoded
  FrameDescriptor* head;   // its block's head descriptor (state Slab)
  CpuArrayLine* cpus;      // the cache's per-CPU arrays (see above)
  uint32_t starts;         // objects * stride_excess: see above (objects lie in [base, base + objects * stride))
  uint32_t objects : 13;   // objects this slab holds (<= kMaxObjectsPerSlab)
  uint32_t inuse : 13;     // objects not on the freelist; mirrored in head->aux
  uint32_t list : 2;       // which of the cache's lists holds it (kList*)
  uint32_t order : 4;      // its block's order
};
static_assert(sizeof(Slab) <= kSlabHeaderSize, "slab headers are 64-byte objects of kmem_slab");


inline constexpr uint8_t kListPartial = 0, kListFull = 1, kListEmpty = 2, kListNone = 3;

// While a head descriptor says Slab, (link_prev:link_next) hold its header.
inline Slab* header_of(const FrameDescriptor& d) {
  return reinterpret_cast<Slab*>((uintptr_t{d.link_prev} << 32) | d.link_next);
}

struct SlabList {
  Slab* head = nullptr;
  uint64_t count = 0;
};

// Where a free object's link slot lies (every use: the fast paths' marks,
// the freelist links, the depot's, verify): at
//   obj + (((obj >> kSpreadShift) & spread_mask) | free_offset)
// of its cache (KmemCache::link_at). One of the two is 0: caches whose
// link lives in the object (free_offset 0: no constructor, no
// init_on_free, not debug) spread it over the object's first lines by
// address bits 12 and up, so the slots of objects a page or more apart
// fall in different cache sets (at a 4 KiB stride a fixed slot puts every
// one in one L1 set and 1/64 of the L2 sets: a batch's marks then come
// from L3); the others keep it at free_offset (past the constructed
// state, the bytes init_on_free wipes, or a debug cache's redzone).
// spread_mask == spread_mask_for(stride) when free_offset == 0, else 0
// (verify()); it selects whole lines within the stride's largest power of
// two, at most a page (64 lines: every L1 set), so the slot lies in the
// object (offset + 8 <= stride) at its alignment, never at another
// object's start.
inline constexpr unsigned kSpreadShift = 6;
constexpr uint32_t spread_mask_for(uint64_t stride) {
  uint64_t p = 64;
  while (p * 2 <= stride && p < kPageSize) p *= 2;
  return static_cast<uint32_t>((p - 1) & ~uint64_t{63});
}
static_assert(spread_mask_for(8) == 0 && spread_mask_for(127) == 0 && spread_mask_for(128) == 0x40 &&
              spread_mask_for(1024) == 0x3c0 && spread_mask_for(3072) == 0x7c0 &&
              spread_mask_for(4096) == 0xfc0 && spread_mask_for(65536) == 0xfc0);
// Mask bits 6 and up only: address bits 12 and up, never the object's own
// offset within its page, so the spread is the same whichever of a page's
// objects it is, and a multiple of 64 (the slot keeps obj's alignment).
static_assert((kSpreadShift + 6) >= 12 && spread_mask_for(kPageSize) % 64 == 0);
struct LinkAt {
  uint32_t spread_mask;
  uint32_t free_offset;
  PF_FAST_PATH uintptr_t slot(uintptr_t obj) const {
    return obj + (((obj >> kSpreadShift) & spread_mask) | free_offset);
  }
  PF_FAST_PATH uintptr_t slot(const void* obj) const { return slot(reinterpret_cast<uintptr_t>(obj)); }
  // The formula with one field known to be 0 (constant-folded out): a
  // spreading cache's slots (spread_mask != 0, so free_offset == 0) are
  // obj + ((obj >> 6) & mask), no `or`; the others' are obj + free_offset,
  // a plain addressing mode. Loops over many objects take one of them per
  // call (visit) and so work from registers only; kmalloc's allocation fast
  // path takes spread_only() alone (SlabAllocator::alloc_object).
  struct SpreadOnly {
    uint32_t spread_mask;
    PF_FAST_PATH uintptr_t slot(uintptr_t obj) const { return LinkAt{spread_mask, 0}.slot(obj); }
    PF_FAST_PATH uintptr_t slot(const void* obj) const { return slot(reinterpret_cast<uintptr_t>(obj)); }
  };
  struct OffsetOnly {
    uint32_t free_offset;
    PF_FAST_PATH uintptr_t slot(uintptr_t obj) const { return LinkAt{0, free_offset}.slot(obj); }
    PF_FAST_PATH uintptr_t slot(const void* obj) const { return slot(reinterpret_cast<uintptr_t>(obj)); }
  };
  // Only where free_offset == 0 (the caller knows it: spread_mask != 0, or
  // a cache the fast paths serve without a constructor).
  PF_FAST_PATH SpreadOnly spread_only() const { return {spread_mask}; }
  // Only where spread_mask == 0.
  PF_FAST_PATH OffsetOnly offset_only() const { return {free_offset}; }
  // f(form) with the form that gives this cache's slots exactly (f generic:
  // one copy of its loop per form, chosen once per call).
  template <typename F>
  PF_FAST_PATH decltype(auto) visit(F&& f) const {
    if (spread_mask != 0) return f(spread_only());
    return f(offset_only());
  }
};

// KmemCache::stride_magic_ for stride d: floor(2^64 / d) + 1, in 64-bit
// arithmetic (a 128-bit division would be a libgcc call): floor(2^64 / d)
// is floor((2^64 - 1) / d), one more when d divides 2^64 (the remainder of
// 2^64 - 1 is then d - 1). Its excess m * d - 2^64 lies in [1, d].
constexpr uint64_t stride_magic_for(uint64_t d) {
  return ~uint64_t{0} / d + (~uint64_t{0} % d == d - 1 ? 1 : 0) + 1;
}
static_assert(stride_magic_for(64) == (uint64_t{1} << 58) + 1 && stride_magic_for(3) == 0x5555555555555556ull &&
              stride_magic_for(24) * 24 == 8 && stride_magic_for(4096) * 4096 == 4096 &&
              stride_magic_for(200) * 200 == 184);
// Is offset (any 32-bit value) k * d for some k < n, given m =
// stride_magic_for(d) and starts = n * (m * d mod 2^64)? One multiply and
// one compare (SlabAllocator::starts_object has the proof).
PF_FAST_PATH constexpr bool starts_object(uint64_t magic, uint32_t starts, uint32_t offset) {
  return uint64_t{offset} * magic < starts;
}

// Debug caches: per-object metadata after the freelist link.
inline constexpr uint32_t kStateFree = 0xf4ee0b1e;
inline constexpr uint32_t kStateAllocated = 0xa110c8ed;
inline constexpr unsigned char kPoisonByte = 0x6b;
inline constexpr unsigned char kRedzoneByte = 0xbb;
struct Track {
  const void* alloc_caller;
  const void* free_caller;
  uint32_t requested;  // bytes asked for (kmalloc), else the object size
  uint32_t state;      // kStateFree or kStateAllocated
};
}  // namespace slab_detail

// Slabs span at most 2^kMaxSlabOrder frames; that bounds the head search.
inline constexpr unsigned kMaxSlabOrder = 5;
inline constexpr size_t kMaxCacheObjectSize = (kPageSize << kMaxSlabOrder) / 2;
inline constexpr size_t kMaxObjectsPerSlab = 4096;  // fits Slab::objects and the descriptor's aux
static_assert(kMaxObjectsPerSlab <= 0xffff && (kPageSize << kMaxSlabOrder) <= 0xffffffffu);
static_assert(kMaxObjectsPerSlab < (1u << 13) && kMaxSlabOrder < (1u << 4),
              "Slab::objects, inuse (13 bits) and order (4 bits) are bit-fields");
inline constexpr unsigned kCacheNameLength = 31;
// Owner tags of the blocks the slab layer takes whole (kOwnerKmallocLarge,
// kOwnerSlabMeta) and cache ids (1..kMaxCacheId): see Owner in frame.hpp.

struct SlabConfig {
  // CPUs that call in; per-CPU arrays are sized for this many (1..kMaxCpus;
  // 0: the PageAllocator's cpu_count()). A CPU id at or above it shares the
  // array of id % cpu_count, which is still correct (the arrays are locked).
  unsigned cpu_count = 0;
  // SLAB_DEBUG for every cache, the kmalloc caches included.
  bool debug = false;
  // Zero objects as they are handed out / as they are freed (caches without
  // a constructor: constructed state is never wiped).
  bool init_on_alloc = false;
  bool init_on_free = false;
  // SLAB_FREELIST_RANDOM for every cache: each new slab hands its objects
  // out in a random order (a random start and a random step coprime to
  // the object count), so neighbours are hard to predict.
  bool freelist_random = false;
  // Seed of the per-cache keys encoding every cache's freelist links; a
  // kernel passes something unpredictable (the TSC at boot, say).
  uint64_t freelist_seed = 0x6a09e667f3bcc909ull;
};

// What slabinfo prints for one cache; active_objects is exact.
struct CacheStats {
  uint64_t active_objects = 0;   // handed out and not freed
  uint64_t total_objects = 0;    // sum over the slabs of their objects
  uint64_t cpu_cached = 0;       // free objects sitting in per-CPU arrays
  uint64_t depot_cached = 0;     // free objects sitting in the cache's depot
  uint64_t depot_limit = 0;      // the depot's capacity (0: no depot)
  uint64_t object_size = 0;      // what the caller asked for (ksize)
  uint64_t stride = 0;           // bytes per object in the slab
  uint64_t objects_per_slab = 0;  // of the preferred layout
  uint64_t pages_per_slab = 0;    // of the preferred layout
  uint64_t fallback_slabs = 0;    // slabs of the minimum layout (no preferred block was free)
  uint64_t min_objects_per_slab = 0;
  uint64_t min_pages_per_slab = 0;
  uint64_t active_slabs = 0;     // slabs with at least one object not on the freelist
  uint64_t total_slabs = 0;
  uint64_t cpu_limit = 0;
  uint64_t cpu_batch = 0;
};

class KmemCache {
 public:
  constexpr KmemCache() = default;
  KmemCache(const KmemCache&) = delete;
  KmemCache& operator=(const KmemCache&) = delete;

  const char* name() const { return name_; }
  size_t object_size() const { return object_size_; }
  size_t align() const { return align_; }
  size_t stride() const { return stride_; }
  unsigned slab_order() const { return order_; }
  size_t objects_per_slab() const { return objs_per_slab_; }
  // The fallback layout: the smallest order that holds one object.
  unsigned min_slab_order() const { return min_order_; }
  size_t min_objects_per_slab() const { return min_objs_; }
  // Empty slabs kept for reuse rather than given back as they empty (shrink
  // and pf_reclaim give them back): the base reserve (empty_reserve_for in
  // slab.cpp) plus what the cache has added to it since its last shrink
  // (reserve_extra_, see keep_empty_locked). Read without the node lock: a
  // snapshot, for tests and statistics.
  size_t empty_reserve() const { return size_t{reserve_empty_} + reserve_extra_; }
  bool off_slab() const { return off_slab_; }
  bool has_cpu_arrays() const { return cpu_ != nullptr; }
  unsigned flags() const { return flags_; }
  uint32_t id() const { return id_; }
  bool retired() const { return retired_; }
  bool debug() const { return debug_; }
  // Where a free object keeps its freelist link; debug caches: where the
  // right redzone ends (0 otherwise). For tests and debuggers.
  size_t free_offset() const { return free_offset_; }
  // Where a free obj of this cache keeps its link (free_offset() spread by
  // the object's address: slab_detail::LinkAt). For tests and debuggers.
  size_t spread_mask() const { return spread_mask_; }
  size_t link_offset(const void* obj) const {
    return link_at().slot(obj) - reinterpret_cast<uintptr_t>(obj);
  }
  PF_FAST_PATH slab_detail::LinkAt link_at() const { return {spread_mask_, free_offset_}; }
  size_t redzone_end() const { return redzone_end_; }

 private:
  friend class SlabAllocator;
  using Slab = slab_detail::Slab;
  using CpuArray = slab_detail::CpuArray;
  using SlabList = slab_detail::SlabList;

  // Identity and layout: written at creation, read-only afterwards.
  char name_[kCacheNameLength + 1] = {};
  SlabAllocator* allocator_ = nullptr;
  ObjectCtor ctor_ = nullptr;
  uint32_t id_ = 0;
  unsigned flags_ = 0;
  uint32_t object_size_ = 0;   // bytes the caller may use
  uint32_t align_ = 0;         // object alignment (power of two >= 8)
  uint32_t stride_ = 0;        // distance between objects
  uint32_t free_offset_ = 0;   // where a free object keeps its freelist link
  uint32_t spread_mask_ = 0;   // and how it spreads (slab_detail::LinkAt)
  uint32_t objs_per_slab_ = 0;
  uint32_t colour_step_ = 0;
  uint32_t colour_count_ = 1;
  // floor(2^64 / stride) + 1: exact division test and index
  // (SlabAllocator::stride_multiple); its excess m * stride - 2^64 lies in
  // [1, stride] (stride_excess), never 0, so that a slab's object starts
  // are told by one compare (Slab::starts).
  uint64_t stride_magic_ = 0;
  // kPageSize << order_ (order_ >= min_order_): every slab of the cache lies
  // in one naturally aligned region of this many bytes, so two addresses of
  // one slab differ only below it: (a ^ b) < link_span_ (free_object's
  // already-free test, which needs neither the slab's base nor its bytes).
  uint64_t link_span_ = 0;
  uint64_t slab_bytes_ = 0;    // objs_per_slab_ * stride_ (preferred layout)
  uint8_t order_ = 0;          // preferred slab order
  uint8_t min_order_ = 0;      // fallback slab order (<= order_)
  uint32_t min_objs_ = 0;      // objects of a fallback slab
  bool off_slab_ = false;
  bool kmalloc_ = false;
  bool debug_ = false;
  uint64_t freelist_key_ = 0;  // links are stored as next ^ key ^ slot (every cache)
  // freelist_key_ ^ SlabAllocator::kInArray (verify()): an object in a
  // per-CPU array holds array_key_ ^ slot in its slot (its "in an array"
  // mark), which the push writes and tests with no `xor` of the constant
  // (SlabAllocator::free_object, looks_free_marked).
  uint64_t array_key_ = 0;
  uint32_t reserve_empty_ = 1;  // empty slabs kept instead of going back to the buddy
  uint32_t redzone_end_ = 0;    // debug: end of the right redzone
  uint32_t track_offset_ = 0;   // debug: where the object's Track lives
  bool poison_ = false;         // debug without a constructor: free objects are poisoned
  bool init_on_alloc_ = false;
  bool init_on_free_ = false;
  bool random_ = false;         // SLAB_FREELIST_RANDOM: each new slab's freelist shuffled
  std::atomic<uint64_t> random_state_{0};

  // Per-CPU arrays: cpu_count + 1 of them (the last shared), in one block:
  // CPU i's CpuArray (a stack pair, `out` and `in`) at cpu_ + i *
  // kCpuArrayLine, its entries after the lines (slab_detail::CpuArray).
  std::byte* cpu_ = nullptr;
  // The fast paths' view (SlabAllocator::set_fast_view): with arrays they
  // may use (cpu_ != nullptr && cpu_limit_ != 0 && !init_on_alloc_ &&
  // !init_on_free_)
  //   fast_cpu_ == (CpuArrayLine*)cpu_,
  //   fast_limit_ == (retired_ ? 0 : cpu_limit_ / 2)   (one stack's capacity),
  // otherwise fast_cpu_ == kNoCpuArrays and fast_limit_ == 0 (empty stacks
  // with no room), so their ordinary tests send every call to the slow path
  // (a retired cache's arrays are drained and its frees go to the slabs).
  // A cache with arrays is neither debug nor init_on_free, so one served
  // without a constructor (every kmalloc cache: ctor_ == nullptr) has
  // free_offset_ == 0 (kmalloc's pop clears LinkAt::spread_only's slot).
  slab_detail::CpuArrayLine* fast_cpu_ = slab_detail::kNoCpuArrays;
  uint32_t fast_limit_ = 0;
  // Objects one CPU's pair holds at most (both stacks: slabinfo's limit);
  // even, each stack holds half (SlabAllocator::stack_limit).
  uint32_t cpu_limit_ = 0;
  // Objects a refill puts in an empty `out` and a flush takes from a full
  // `in`: cpu_batch_ <= cpu_limit_ / 2 (verify()).
  uint32_t cpu_batch_ = 0;
  uint8_t cpu_block_order_ = 0;
  // The depot (Bonwick's magazine depot, SLAB's shared array): free objects
  // a full per-CPU array gave back, taken again by an empty one on any CPU,
  // so a burst moves between the arrays and the depot by copying pointers,
  // not through the slabs (caches of objects up to 4 KiB: kDepotMaxStride).
  // depot_limit_ entries in the arrays' block after the CPUs' entries (0: no
  // depot); depot_count_ is under node_lock_.
  void** depot_ = nullptr;
  uint32_t depot_limit_ = 0;

  // Shared state, under node_lock_.
  alignas(64) mutable SpinLock node_lock_;
  // The reserve's adaptive part (keep_empty_locked in slab.cpp): a slab given
  // back past the reserve (gave_back_) and then grown again says the reserve
  // was too small for this cache's swing, so it grows by one slab, up to
  // reserve_max_ slabs in all (the byte bounds of empty_reserve_for);
  // cache_shrink and pf_reclaim reset it.
  //   reserve_empty_ + reserve_extra_ <= max(reserve_empty_, reserve_max_)  (verify())
  // (In the bytes after the lock, which would otherwise be padding.)
  uint16_t reserve_extra_ = 0;
  uint16_t reserve_max_ = 0;
  bool gave_back_ = false;
  SlabList partial_, full_, empty_;
  uint64_t slab_count_ = 0;
  uint64_t inuse_ = 0;  // sum of slab inuse
  uint64_t total_objects_ = 0;   // sum of slab objects
  uint64_t fallback_slabs_ = 0;  // slabs of the minimum layout (min_order_ < order_)
  uint32_t depot_count_ = 0;     // depot_[0, depot_count_) hold objects
  std::atomic<uint32_t> next_colour_{0};

  // The allocator's list of caches, under SlabAllocator::caches_lock_.
  KmemCache* next_ = nullptr;
  KmemCache* prev_ = nullptr;
  // Walkers that hold this cache across a dropped caches_lock_ (shrink_all,
  // and cache_shrink for the length of its shrink):
  // while pins_ != 0 the cache stays linked and its record alive, so
  // next_ can be followed once the lock is taken again; cache_destroy waits
  // for 0 before it unlinks. Under caches_lock_.
  uint32_t pins_ = 0;
  bool retired_ = false;  // destroyed while objects were live; see cache_destroy
  // A cache_destroy is under way (claimed under caches_lock_, which also
  // covers its handle check): a second destroy of the same handle, racing
  // on another CPU, is refused by name instead of draining arrays the first
  // one has freed. Cleared when the destroy leaves the cache retired (a
  // later destroy may finish it). Under caches_lock_.
  bool destroying_ = false;
};

class SlabAllocator {
 public:
  // Unbound until init: the frees' copy of the lookup is an empty table
  // (lookup_). The default one is PageAllocator::empty_lookup_table(); a
  // slab layer that will be the one layer over `owner` (the C API's) may
  // use the owner's unbound_lookup_table() instead, which costs no memory.
  constexpr SlabAllocator() = default;
  explicit constexpr SlabAllocator(const PageAllocator& owner)
      : lookup_(owner.unbound_lookup_table()), unbound_lookup_(owner.unbound_lookup_table()), owner_(&owner) {}
  SlabAllocator(const SlabAllocator&) = delete;
  SlabAllocator& operator=(const SlabAllocator&) = delete;

  // Binds to `pages` (initialised) and creates the kmalloc caches. Returns
  // PF_OK, PF_ERR_BAD_CONFIG, or PF_ERR_NO_USABLE_MEMORY when the buddy cannot
  // supply the caches' first blocks (then nothing is kept).
  int init(PageAllocator& pages, const SlabConfig& config = {});
  bool initialised() const { return pages_ != nullptr; }
  // Destroys every cache (user caches too) and returns every frame the slab
  // layer holds to the buddy. Live objects are reported as by cache_destroy
  // and their slabs are kept (deliberately leaked). Returns the live objects
  // found; the allocator is uninitialised afterwards unless some were found.
  size_t teardown();

  // ---- caches --------------------------------------------------------------
  // size 1..kMaxCacheObjectSize; align 0 (8) or a power of two up to 4096,
  // raised to 8; flags: SLAB_HWCACHE_ALIGN, SLAB_NO_COLOUR, SLAB_DEBUG.
  // Bad arguments are reported (InvalidArgument) and give nullptr; so does
  // out of memory, without a report. `name` is copied (31 characters kept).
  KmemCache* cache_create(const char* name, size_t size, size_t align, unsigned flags,
                          ObjectCtor ctor, const void* caller = nullptr);
  PF_FAST_PATH void* cache_alloc(KmemCache* cache, gfp_t flags, const void* caller = nullptr) {
    return alloc_object(cache, flags, caller, 0);
  }
  // Misuse (see error.hpp: slab-*) is reported and the call refused.
  // (A slab's cache is never null, so s->cache == c also says c != nullptr;
  // a null obj finds no slab and is the slow path's to ignore. Before init
  // no obj finds a slab (lookup_), so c, maybe garbage then, is not read
  // before the slow path refuses the call.)
  PF_FAST_PATH void cache_free(KmemCache* c, void* obj, const void* caller = nullptr) {
    free_known(c, obj, caller, [&]() PF_FAST_LAMBDA { cache_free_slow(c, obj, caller); });
  }
  // All or nothing, as Linux: count, or 0 with nothing allocated. A handle
  // that is no live cache (cache_handle_ok) or a null `out` with count != 0
  // is reported (InvalidArgument) and gets 0.
  size_t cache_alloc_bulk(KmemCache* c, gfp_t flags, size_t count, void** out,
                          const void* caller = nullptr);
  // Runs of objects of one slab go back to it, or (slabs of few objects)
  // to the cache's depot, in one node-lock hold (bypassing the per-CPU
  // array); misuse is named as by cache_free. A handle that is no live cache
  // or a null `objects` with count != 0 is reported (InvalidArgument) once
  // and nothing is freed.
  void cache_free_bulk(KmemCache* c, size_t count, void* const* objects,
                       const void* caller = nullptr);
  // A handle that is no live cache (destroyed before, or never a cache:
  // cache_handle_ok) is reported (InvalidArgument) and nothing happens;
  // so are the bootstrap and kmalloc caches.
  // Returns the live objects found. 0: the cache is gone. Otherwise each live
  // object is logged with its address, CacheDestroyedWithLiveObjects is
  // reported, empty slabs are released and the cache is *retired*: it keeps
  // the slabs of live objects (frees into it still work), refuses new
  // allocations, stays in slabinfo, and a later cache_destroy that finds it
  // empty finishes the job. Leaking those slabs is deliberate: freeing them
  // would leave callers holding pointers into memory given to someone else.
  size_t cache_destroy(KmemCache* cache, const void* caller = nullptr);
  // Drains the cache's per-CPU arrays and gives every empty slab back;
  // returns frames released (off-slab header slabs that emptied included).
  // A handle that is no live cache is reported (InvalidArgument), 0.
  size_t cache_shrink(KmemCache* cache, const void* caller = nullptr);
  // cache_shrink's work on a cache that cannot go away meanwhile (pinned,
  // or a bootstrap cache): its arrays drained, its empty slabs released.
  size_t shrink_pinned(KmemCache* cache);
  // May the public calls use `c` as a cache? A bootstrap cache, or a live
  // record: an object start in a slab of the kmem_cache cache whose
  // allocator_ is this allocator (unlink_cache clears it before the
  // record is freed; it sits at offset 32, where no free-list link slot of
  // that cache can lie: slots are at multiples of 64 there). O(1): one
  // descriptor read. A destroyed record handed out again to a new cache
  // passes (the stale handle names the new cache, as in Linux). Slow paths
  // and the calls that are slow anyway (destroy, shrink, bulk) check it;
  // kmem_cache_alloc of a destroyed record reaches it through alloc_slow
  // (the record's fast view is off: fast_cpu_ == kNoCpuArrays, cpu_ == null,
  // fields a free-list link cannot overwrite either); a pointer that was
  // never a cache is read by the fast paths before any check (as in Linux).
  bool cache_handle_ok(const KmemCache* c) const;
  // The bulk calls' form: a record that names this allocator and has its
  // fast view on is taken as live without the lookup (two loads); anything
  // else gets cache_handle_ok. A destroyed record fails the first test
  // (allocator_ cleared), and so does memory that never was a record,
  // short of a copy of one; like kmem_cache_alloc, it reads the handle, so
  // an unmapped one faults. (callgrind, 1024-object bulk rows against the
  // code before any check: the lookup on every call cost 0.2-0.3
  // instructions per object, this form 0.05 at 64 B and 0.15 at 1 and 4 KiB.)
  bool bulk_handle_ok(const KmemCache* c) const {
    return (c->allocator_ == this && fast(c)) || cache_handle_ok(c);
  }
  // cache_shrink for every cache, the bootstrap caches included.
  size_t shrink_all();
  // shrink_all, then every CPU's page cache back to the buddy (pf_reclaim).
  // Returns the frames the slab layer released.
  size_t reclaim();
  // Direct reclaim (reclaim.hpp has the design; slab_reclaim.cpp): for a
  // call that has just failed for lack of memory, nothing held, reclaim()
  // if `flags` may reclaim and no fault injection is armed on either layer.
  // Returns the frames released; 0: no retry (nothing to retry for).
  size_t reclaim_for_retry(gfp_t flags);
  // The line a retry logs (nothing under __GFP_NOWARN in `flags`).
  static void note_retry(const char* call, gfp_t flags, size_t released, bool succeeded);

  // ---- kmalloc family (pfalloc.h semantics; capi.cpp forwards to these) -----
  // `caller` is recorded by debug caches and named in reports; the C API
  // passes its own caller, C++ callers may leave it out.
  PF_FAST_PATH void* kmalloc(size_t size, gfp_t flags, const void* caller = nullptr) {
    // One test of the flags: a zone limit (served by kmalloc_slow) or a bit
    // that is no __GFP_* flag (refused there); as cheap as the zone test alone.
    if (__builtin_expect(size - 1 < kKmallocMaxSize && (flags & (__GFP_DMA | __GFP_DMA32 | kGfpUnknown)) == 0, 1))
      return alloc_object<true, true>(kmalloc_by_size_[(size - 1) >> 3], flags, caller, size);
    return kmalloc_slow(size, flags, caller);
  }
  // An object aligned to `align` (a power of two; above 4096 a block aligned
  // to it). kfree, ksize and krealloc accept it like any other.
  void* kmalloc_aligned(size_t size, size_t align, gfp_t flags, const void* caller = nullptr);
  void* kzalloc(size_t size, gfp_t flags, const void* caller = nullptr) {
    return kmalloc(size, flags | __GFP_ZERO, caller);
  }
  // nullptr on overflow of n * size.
  void* kcalloc(size_t n, size_t size, gfp_t flags, const void* caller = nullptr);
  // In place while the new size fits ksize (so a shrink never moves and
  // never fails, as in Linux); krealloc(p, 0) frees and returns nullptr;
  // krealloc(nullptr, n) == kmalloc(n). On failure nullptr, `p` untouched.
  void* krealloc(void* p, size_t new_size, gfp_t flags, const void* caller = nullptr);
  void* krealloc_aligned(void* p, size_t new_size, size_t align, gfp_t flags,
                         const void* caller = nullptr);
  PF_FAST_PATH void kfree(const void* p, const void* caller = nullptr) {
    with_slab(
        p, [&](Slab* s) PF_FAST_LAMBDA { free_object(s->cache, s, s->cpus, const_cast<void*>(p), caller); },
        [&]() PF_FAST_LAMBDA {
          if (p != nullptr) kfree_slow(p, caller);
        });
  }
  // kfree with the size the caller asked kmalloc/kzalloc/kcalloc/krealloc
  // for (C23's free_sized, C++14's sized delete): any size of the object's
  // kmalloc class names its cache, kmalloc_by_size_[(size - 1) >> 3], before
  // p is looked up, so the push waits on p's descriptor and header (the
  // s->cache == c test) but not on the cache's arrays (cache_free's fast
  // path, same checks). kfree_sized(nullptr, n) does nothing.
  // A size whose class is not the object's cache (kmalloc_aligned objects,
  // large blocks, size 0 or above kKmallocMaxSize, an object krealloc shrank
  // in place, an object of a kmem_cache) goes to kfree_sized_slow: freed
  // exactly as kfree frees it when size <= ksize(p); above ksize(p) it is
  // misuse, reported as slab-wrong-size and refused (nothing freed). Every
  // misuse kfree names (double free, not an object start, bad pointer, ...)
  // is named alike, before the size is judged. Debug caches: ksize is the
  // requested size, so a size of another class above the tracked request is
  // reported; one of the same class as the object's is accepted (the fast
  // path's rule, the same in every mode).
  PF_FAST_PATH void kfree_sized(const void* p, size_t size, const void* caller = nullptr) {
    if (__builtin_expect(size - 1 < kKmallocMaxSize, 1)) {
      // Null only before init (fast_cpus_ == 0): no slab's cache is null,
      // so the test below would send every such call to the slow path (and
      // then no slab is found at all: lookup_ is the unbound table).
      free_known<true>(kmalloc_by_size_[(size - 1) >> 3], const_cast<void*>(p), caller,
                       [&]() PF_FAST_LAMBDA { kfree_sized_slow(p, size, caller); });
      return;
    }
    kfree_sized_slow(p, size, caller);
  }
  // Usable bytes at p (>= the request); 0 (and a report) for a bad pointer.
  size_t ksize(const void* p, const void* caller = nullptr) const;

  // Fault injection for tests: the nth object allocation from now
  // (cache_alloc and the kmalloc family, large ones included; n >= 1) and
  // every later one return nullptr, until set_fail_after(0). Costs one
  // predictable branch when unused. (PageAllocator::set_fail_after fails
  // the slab layer's page allocations instead: slab growth, large blocks.)
  void set_fail_after(uint64_t n);
  uint64_t fail_after_calls() const { return fail_calls_.load(std::memory_order_relaxed); }
  // set_fail_after(n != 0) is in force (reclaim.hpp retries no failure then).
  bool fail_armed() const { return fail_at_.load(std::memory_order_relaxed) != 0; }

  // ---- introspection ---------------------------------------------------------
  KmemCache* kmalloc_cache(size_t class_index) const { return kmalloc_caches_[class_index]; }
  KmemCache* kmalloc_cache_for(size_t size) const {
    return size == 0 || size > kKmallocMaxSize ? nullptr
                                                : kmalloc_caches_[slab_detail::kmalloc_class_index(size)];
  }
  // The buddy order of kmalloc's block for a request above the slab
  // classes (kmalloc_large): the frames of `size`, at least `align`'s, rounded
  // up to a power of two. kKmallocOrderTooLarge past the largest block.
  static constexpr unsigned kKmallocOrderTooLarge = ~0u;
  static constexpr unsigned kmalloc_large_order(size_t size, size_t align) {
    if (size > (kPageSize << kMaxOrder) || align > (kPageSize << kMaxOrder)) return kKmallocOrderTooLarge;
    uint64_t frames = (size + kPageSize - 1) >> kPageShift;
    const uint64_t align_frames = align >> kPageShift;
    if (frames < align_frames) frames = align_frames;  // a block is aligned to its size
    return order_for_frames(frames).value;
  }
  // The class kmalloc_aligned(size, align) takes (flags without a zone
  // limit): the smallest that fits and is aligned enough; nullptr when it
  // takes a large block (kmalloc_large_order(size, max(align, a page))).
  KmemCache* kmalloc_cache_for_aligned(size_t size, size_t align) const {
    if (size == 0 || size > kKmallocMaxSize || align > kPageSize) return nullptr;
    // Power-of-two classes are aligned to themselves, so the walk stops by
    // the class of `align`.
    size_t i = slab_detail::kmalloc_class_index(size);
    while (i < kKmallocClassCount && kmalloc_class_align(kKmallocSizes[i]) < align) ++i;
    return i < kKmallocClassCount ? kmalloc_caches_[i] : nullptr;
  }
  // "kmem_slab", whose objects are the off-slab headers: a cache's new slab
  // takes one (and a page for them when none is free).
  const KmemCache* header_cache() const { return &slab_cache_; }
  // The cache an object belongs to, or nullptr (large block, not a slab); no report.
  KmemCache* cache_of(const void* p) const;
  CacheStats stats(const KmemCache* cache) const;
  size_t cache_count() const;
  // Linux's /proc/slabinfo (version 2.1), one row per cache, kmalloc ones included.
  void format_slabinfo(TextBuffer& out) const;
  // Walks every cache; reports VerifyFailed with the first violation and
  // returns false. Changes nothing.
  bool verify() const;
  PageAllocator* pages() const { return pages_; }
  unsigned cpu_count() const { return cpu_count_; }
  // Free objects sitting in CPU `cpu`'s arrays, over every cache (each
  // array read under its lock); 0 for cpu >= cpu_count().
  uint64_t cpu_cached_objects(unsigned cpu) const;
  bool debug() const { return debug_; }

  // Fork support (slab_fork.cpp): every lock of the slab layer, in the
  // documented order (caches_lock_, every CPU's gate with its owner stopped,
  // every cache's node lock), then the page allocator's (fork_prepare);
  // fork_release undoes it all. The caller must not allocate in between.
  // In the child (one thread) no shrink_all walker survives the fork, so
  // its pins are dropped too: the child can still destroy those caches.
  void fork_prepare();
  void fork_release(bool in_child);

 private:
  using Slab = slab_detail::Slab;
  using CpuArray = slab_detail::CpuArray;
  using SlabList = slab_detail::SlabList;

  // What the debug checks found, reported once the locks are dropped.
  struct Finding {
    ErrorCode code = ErrorCode::Count;  // Count: nothing
    const char* detail = nullptr;
    const void* object = nullptr;
  };
  void report_finding(const Finding& f, const KmemCache* c, const void* caller) const;
  static slab_detail::Track* track_of(const KmemCache* c, const void* obj);
  void debug_populate(const KmemCache* c, std::byte* obj) const;
  void debug_on_alloc_locked(KmemCache* c, void* obj, const void* caller, size_t requested,
                             gfp_t flags, Finding* f);
  bool debug_on_free_locked(KmemCache* c, Slab* s, void* obj, const void* caller, Finding* f);
  void rebuild_freelist_locked(KmemCache* c, Slab* s);
  // krealloc within the object: the requested size moves, and the redzone with it.
  void debug_resize(KmemCache* c, void* obj, size_t new_size);
  Finding debug_check_object(const KmemCache* c, const void* obj, bool free) const;
  // ---- the fast paths: this CPU's gate, a pop or a push, nothing else ----
  PF_FAST_PATH unsigned this_cpu() const {
    const unsigned id = platform::cpu_id_claim();
    return id < cpu_count_ ? id : cpu_count_;
  }
  // Pop from this CPU's `out` stack; when it is empty, alloc_turn. A cache
  // the fast paths may not serve shows two empty stacks (KmemCache::fast_cpu_),
  // so `n != 0` is the only test of it.
  // kNonNull: c is known not to be null while the gates are open (kmalloc's
  // table, see fast_cpus_; c is read only once enter() succeeded), so that
  // test is left out. kKmalloc: c is a kmalloc cache (no constructor), so
  // one the fast paths serve keeps its link in the object (free_offset_ ==
  // 0, see fast_cpu_) and a popped object's slot is LinkAt::spread_only's.
  template <bool kNonNull = false, bool kKmalloc = false>
  PF_FAST_PATH void* alloc_object(KmemCache* c, gfp_t flags, const void* caller, size_t requested) {
    const unsigned cpu = platform::cpu_id();  // < kCpuIdBound; gates of no owner are closed
    void* obj;
    if (__builtin_expect(kNonNull || c != nullptr, 1)) {
      IrqOff irq;
      CpuGate& g = gates_[cpu];
      if (__builtin_expect(g.enter(), 1)) {
        CpuArray& a = c->fast_cpu_[cpu].array;
        // n - 1, and whether n was 0, from one `sub` (its borrow); 64-bit,
        // so the index needs no zero-extending copy.
        size_t m;
        if (__builtin_expect(!__builtin_sub_overflow(size_t{a.out.size()}, size_t{1}, &m), 1)) {
          obj = a.out.slots[m];
          a.out.set_size(static_cast<uint32_t>(m));
          g.leave();
          goto popped;  // leaves the interrupt mask's scope: restored before the clear
        }
        g.leave();
      }
    }
    // `out` empty (or the gate shut): alloc_turn turns the pair when `in`
    // holds objects, else takes the slow path.
    return alloc_turn(c, flags, caller, requested);
  popped:
    // Arrays hold objects only, never null (verify() checks every entry is
    // an object of its cache): said so, the caller's test of the result
    // folds away on this path. No instruction.
    if (obj == nullptr) __builtin_unreachable();
    // No longer in an array (see looks_free). Not through link_slot: obj
    // came from the array, and the plain address folds into the store.
    *reinterpret_cast<uintptr_t*>(kKmalloc ? c->link_at().spread_only().slot(obj) : c->link_at().slot(obj)) = 0;
    if (flags & __GFP_ZERO) __builtin_memset(obj, 0, c->object_size_);
    return obj;
  }
  // The slab of an object-looking pointer (its frame heads a slab: every
  // order-0 slab, the first frame of the others), else nullptr.
  PF_FAST_PATH Slab* slab_of(const void* p) const {
    return with_slab(
        p, [](Slab* s) PF_FAST_LAMBDA { return s; }, []() PF_FAST_LAMBDA { return static_cast<Slab*>(nullptr); });
  }
  // hit(s) when p's frame carries a slab (s its header), else miss(): one
  // descriptor read, and no test of the descriptor pointer on the direct
  // lookup's path (PageAllocator::with_descriptor_of_virt: a main-range
  // frame's descriptor from p itself, no frame number), through this
  // allocator's copy of the lookup (lookup_): pages_ is loaded on the
  // walk's path only. Unbound (pages_ null, lookup_ the unbound table) no
  // p finds a slab: the empty table sends it to the walk, which calls
  // miss() without pages_ (no descriptor read), the owner's table finds no
  // frame carrying one; hit() never runs.
  template <typename Hit, typename Miss>
  PF_FAST_PATH auto with_slab(const void* p, Hit hit, Miss miss) const -> decltype(miss()) {
    return PageAllocator::with_descriptor_of_virt(
        detail::load_acquire(lookup_), [this]() PF_FAST_LAMBDA { return pages_; }, p,
        [this, p]() PF_FAST_LAMBDA { return to_pfn(phys_.to_phys(p)); },
        [&](const FrameDescriptor* d) PF_FAST_LAMBDA {
          if (__builtin_expect(carries_slab(*d), 1)) return hit(slab_detail::header_of(*d));
          return miss();
        },
        miss);
  }
  // A frame of a slab: the head (state Slab) or a tail that grow() tagged
  // with its cache id and header (state Tail, owner != 0, links == header),
  // so an object in any frame of a slab finds its header with one
  // descriptor read. Every other Tail descriptor is all zero (frame.hpp;
  // PageAllocator::verify checks the tails of free blocks), and a Slab
  // head's links always name its header, so the test is: the state one of
  // the two, which (Tail == 0, Slab a power of two) is one test, no bit but
  // Slab's set, and the header (loaded anyway) not null. (The owner, a
  // load of its own, says nothing more.)
  PF_FAST_PATH static bool carries_slab(const FrameDescriptor& d) {
    constexpr unsigned kSlab = static_cast<unsigned>(FrameState::Slab);
    static_assert(static_cast<unsigned>(FrameState::Tail) == 0 && is_power_of_two(kSlab),
                  "carries_slab tests Tail-or-Slab as (state & ~Slab) == 0");
    return (static_cast<unsigned>(frame_state(d)) & ~kSlab) == 0 && slab_detail::header_of(d) != nullptr;
  }
  // A free whose cache c is known before obj is looked up (cache_free,
  // kfree_sized): obj's slab must be one of c's, else miss() (the caller's
  // slow path, which finds out what obj is and names any misuse). The push
  // uses c's arrays, so its address does not wait on obj's lookup.
  // kKmalloc: c is a kmalloc cache (kfree_sized), see free_object.
  template <bool kKmalloc = false, typename Miss>
  PF_FAST_PATH void free_known(KmemCache* c, void* obj, const void* caller, Miss miss) {
    with_slab(
        obj,
        [&](Slab* s) PF_FAST_LAMBDA {
          if (__builtin_expect(s->cache == c, 1)) return free_object<kKmalloc>(c, s, c->fast_cpu_, obj, caller);
          miss();
        },
        miss);
  }
  // s is obj's slab (by its frame), c is s's cache. Push onto this CPU's
  // array; a cache the fast paths may not serve has no room there
  // (fast_limit_ == 0), so `n < limit` is the only test of it.
  PF_FAST_PATH void free_object(KmemCache* c, Slab* s, void* obj, const void* caller) {
    free_object(c, s, c->fast_cpu_, obj, caller);
  }
  // The same with c's arrays given: c->fast_cpu_ when c is known before obj
  // is looked up (kmem_cache_free), s->cpus when it is not (kfree), so
  // the push's address hangs on one load from the header, not on the cache
  // (both are the same arrays whenever fast_limit_ != 0).
  // kKmalloc: c is a kmalloc cache (no constructor), so if the fast paths
  // serve it its link is in the object (free_offset_ == 0, see
  // KmemCache::fast_cpu_) and LinkAt::spread_only gives the slot, one `or`
  // less. If they do not (a debug or init_on_free kmalloc cache, whose
  // free_offset_ may be set), the slot read below may be another word of
  // the object (a harmless read: the test only decides whether to try the
  // push), and the push finds no room (fast_limit_ == 0), so the slow path
  // does everything: nothing is marked through that slot.
  template <bool kKmalloc = false>
  PF_FAST_PATH void free_object(KmemCache* c, Slab* s, slab_detail::CpuArrayLine* lines, void* obj,
                                const void* caller) {
    const unsigned cpu = platform::cpu_id();
    // An object that already looks free (in some CPU's array, or on its
    // slab's freelist) goes to the slow path, which makes sure and names it.
    uintptr_t* slot = kKmalloc ? link_slot_at(c->link_at().spread_only(), obj) : link_slot(c, obj);
    // The slot's "in an array" mark (KmemCache::array_key_); *slot ^ mark is
    // the slot decoded with bit 0 flipped (looks_free_marked).
    const uintptr_t mark = c->array_key_ ^ reinterpret_cast<uintptr_t>(slot);
    if (__builtin_expect(at_object_start_in_block(c, s, obj) && !looks_free_marked(c, obj, *slot ^ mark), 1)) {
      IrqOff irq;
      CpuGate& g = gates_[cpu];
      if (__builtin_expect(g.enter(), 1)) {
        // Frees push onto `in` (the pair's other stack from the one
        // allocations pop: see slab_detail::CpuArray); fast_limit_ is one
        // stack's capacity. A full `in` goes to the slow path, which turns
        // the pair (out empty) or flushes.
        CpuStack<void*>& a = lines[cpu].array.in;
        const size_t n = a.size();
        if (__builtin_expect(n < c->fast_limit_, 1)) {
          // Marked before it is published: a drain that stops this CPU may
          // flush the object (writing its link) as soon as the gate opens.
          *slot = mark;  // mark_in_array
          // (Not n + 1 by lea with the entry stored at a displacement of
          // -8: one instruction less, but measured 10-20% slower on the
          // free-then-allocate pairs, whose next pop loaded this entry.)
          a.slots[n] = obj;
          a.set_size(static_cast<uint32_t>(n + 1));
          g.leave();
          return;
        }
        g.leave();
      }
    }
    free_slow_at(c, obj, caller);
  }
  // ---- double-free detection through the free-list slot ----
  // Every free object's link slot (slab_detail::LinkAt) says where it is, encoded
  // with the cache's key and the slot's own address: on a slab's freelist it
  // holds the next free object (or null); in a per-CPU array it holds
  // kInArray (odd: no object address). Handing an object out clears it. So
  // a free of an object whose slot decodes to kInArray, to null or to an
  // object of its slab is (but for a 2^-64 coincidence of the caller's
  // data) a double free, however long ago the first free was and on
  // whichever CPU: the slow path confirms and names it, and the object is
  // never handed out twice. Only two frees racing on two CPUs can both pass.
  static constexpr uintptr_t kInArray = 1;
  PF_FAST_PATH static uintptr_t* link_slot(const KmemCache* c, void* obj) {
    return link_slot_at(c->link_at(), obj);
  }
  template <typename Link>
  PF_FAST_PATH static uintptr_t* link_slot_at(Link link, void* obj) {
    auto* slot = reinterpret_cast<uintptr_t*>(link.slot(obj));
    // No instruction: hides where obj came from, so GCC does not judge the
    // slot's bounds by whatever the caller passed (a stack int to kfree, say:
    // refused before the slot is read, but GCC cannot see that).
    asm("" : "+r"(slot));
    return slot;
  }
  PF_FAST_PATH static uintptr_t decode_slot(const KmemCache* c, const uintptr_t* slot) {
    return *slot ^ c->freelist_key_ ^ reinterpret_cast<uintptr_t>(slot);
  }
  PF_FAST_PATH static void mark_in_array(const KmemCache* c, void* obj) {
    uintptr_t* slot = link_slot(c, obj);
    *slot = c->array_key_ ^ reinterpret_cast<uintptr_t>(slot);
  }
  PF_FAST_PATH static bool looks_free(const KmemCache* c, const Slab* s, void* obj) {
    return looks_free(c, s, decode_slot(c, link_slot(c, obj)));
  }
  // v: the object's slot decoded. A link lands inside its slab; the slow
  // path confirms (an object start, on the freelist), so the fast path
  // tests the range only (the slab's own: slabs of one cache differ in size).
  PF_FAST_PATH static bool looks_free(const KmemCache* c, const Slab* s, uintptr_t v) {
    return v <= kInArray || v - reinterpret_cast<uintptr_t>(s->base) < object_bytes(c, s);
  }
  // The fast path's form, from obj alone: v <= kInArray, or v lies in obj's
  // aligned region of link_span_ bytes, which holds obj's whole slab; so
  // whatever looks_free accepts (a link to an object of the slab, or the
  // slot's own address: kInDepot), this accepts too. It may accept more
  // (the slab's colour or tail): the slow path then finds it not free.
  PF_FAST_PATH static bool looks_free_near(const KmemCache* c, const void* obj, uintptr_t v) {
    return v <= kInArray || (v ^ reinterpret_cast<uintptr_t>(obj)) < c->link_span_;
  }
  // looks_free_near(c, obj, w ^ kInArray), as the push computes it (w =
  // *slot ^ array_key_ ^ slot, the decoded slot with bit 0 flipped): w <= 1
  // iff v <= 1, and flipping bit 0 leaves (v ^ obj) below link_span_ (a
  // power of two of at least a page) or above it. The same test with no
  // `xor` of the constant.
  PF_FAST_PATH static bool looks_free_marked(const KmemCache* c, const void* obj, uintptr_t w) {
    static_assert(kInArray == 1, "looks_free_marked flips bit 0 only");
    return w <= 1 || (w ^ reinterpret_cast<uintptr_t>(obj)) < c->link_span_;
  }
  // Is p (an object start of s) free: in a per-CPU array, the depot or on
  // s's freelist (debug caches: its track says so)? Takes the node lock
  // only when the slot looks like a link. For ksize and krealloc.
  bool object_is_free(const KmemCache* c, const Slab* s, const void* p) const;
  // Is obj on s's freelist? (node lock held; walks at most objs_per_slab links)
  bool on_freelist_locked(const KmemCache* c, const Slab* s, const void* obj) const;
  // The fast path's miss: `out` is empty (or the gate was shut). Turns the
  // pair and pops when `in` holds objects, in the gate as the fast path
  // does (no lock, no atomic RMW: the CPU's data is the owner's between
  // enter() and leave()); otherwise alloc_slow. Out of line, not inline in
  // the fast path: the turn, inline, made kmalloc's inlined body large
  // enough that GCC stopped inlining its callers' wrappers (the bench's
  // obj_alloc: +7 instructions per kmalloc+kfree pair under callgrind),
  // while a turn comes once per refill's worth of allocations (cpu_batch_).
  [[gnu::noinline]] void* alloc_turn(KmemCache* c, gfp_t flags, const void* caller, size_t requested);
  [[gnu::noinline, gnu::cold]] void* alloc_slow(KmemCache* c, gfp_t flags, const void* caller,
                                                size_t requested);
  [[gnu::noinline, gnu::cold]] void free_slow(KmemCache* c, Slab* s, void* obj, const void* caller);
  // free_slow for free_object's misses: finds obj's slab again (it is a
  // slab of c), so that the fast path keeps neither the header nor more
  // registers live than its checks need.
  [[gnu::noinline, gnu::cold]] void free_slow_at(KmemCache* c, void* obj, const void* caller);
  [[gnu::noinline, gnu::cold]] void cache_free_slow(KmemCache* c, void* obj, const void* caller);
  [[gnu::noinline, gnu::cold]] void kfree_slow(const void* p, const void* caller);
  [[gnu::noinline, gnu::cold]] void kfree_sized_slow(const void* p, size_t size, const void* caller);
  // The frees' slow paths before init (pages_ null: nothing to look p up
  // in, nothing was ever handed out): reports `op` refused
  // (InvalidArgument) and returns true; false once initialised.
  bool report_uninitialised(const char* op, const void* p, const void* caller) const;
  [[gnu::noinline, gnu::cold]] void* kmalloc_slow(size_t size, gfp_t flags, const void* caller);
  bool fail_injected() {
    const uint64_t at = fail_at_.load(std::memory_order_relaxed);
    return at != 0 && fail_calls_.fetch_add(1, std::memory_order_relaxed) + 1 >= at;
  }

  // Where a pointer lands, found through the frame descriptors.
  enum class Target : uint8_t { SlabObject, LargeBlock, NotManaged, NotSlab };
  struct Located {
    Target target = Target::NotManaged;
    Slab* slab = nullptr;             // SlabObject
    FrameDescriptor* head = nullptr;  // the head descriptor of the block holding p, if found
    Pfn pfn;                          // frame of the pointer
    Pfn head_pfn;                     // frame of `head`
  };
  // The common case inline: the pointer's own frame belongs to a slab (its
  // head, or a tail tagged by grow()): one descriptor read.
  Located locate(const void* p) const {
    const Pfn pfn = to_pfn(phys_.to_phys(p));
    FrameDescriptor* d = descriptor_of(pfn);
    if (__builtin_expect(d != nullptr && carries_slab(*d), 1)) {
      Slab* s = slab_detail::header_of(*d);
      return Located{Target::SlabObject, s, s->head, pfn, to_pfn(block_of(s))};
    }
    return locate_slow(p);
  }
  Located locate_slow(const void* p) const;
  // The head frame of s's block: base rounded down to the block's size (the
  // buddy's blocks are naturally aligned, and base lies in the block). The
  // order comes from the head descriptor, not from s->order: callers hold no
  // node lock, and s->order shares its word with inuse, which the node
  // lock's holder rewrites (a bit-field store is a read-modify-write).
  PhysAddr block_of(const Slab* s) const {
    return PhysAddr{phys_.to_phys(s->base).value & ~(Order{frame_order(*s->head)}.bytes() - 1)};
  }

  // Descriptor lookup: the buddy's own (inline, see PageAllocator::find_range).
  PF_FAST_PATH FrameDescriptor* descriptor_of(Pfn pfn) const { return pages_->descriptor(pfn); }
  // offset % stride == 0 without a division: with m = floor(2^64 / stride) + 1,
  // offset is a multiple of stride iff offset * m mod 2^64 < m (Lemire, Kaser
  // and Kurz, "Faster remainder by direct computation"), for offsets < 2^32.
  // (A p below base wraps to an offset above any slab's bytes.)
  // For offset < bytes <= B (B: the largest slab) the product is k * e < B
  // for a multiple k * stride (e = m * stride - 2^64, 1 <= e <= stride) and
  // at least m >= 2^64 / B otherwise, so any bound between B and 2^64 / B
  // tells them apart: 2^32, i.e. "the high half is zero", which needs no
  // register for m.
  static constexpr uint64_t kMaxSlabBytes = kPageSize << kMaxSlabOrder;
  static_assert(kMaxSlabBytes <= (uint64_t{1} << 24), "2^32 must lie between B and 2^64 / B with room");
  PF_FAST_PATH static bool stride_multiple(const KmemCache* c, uint64_t offset) {
    return ((offset * c->stride_magic_) >> 32) == 0;
  }
  // e = m * stride - 2^64 (mod 2^64): in [1, stride] (KmemCache::stride_magic_).
  static uint64_t stride_excess(const KmemCache* c) { return c->stride_magic_ * c->stride_; }
  // The bytes s's objects span: objects * stride, with no lock held: from
  // starts (a word of its own, written before the slab is published and
  // never again), not from objects, whose bit-field word the node lock's
  // holder rewrites (inuse: a read-modify-write). One division: slow paths.
  static uint64_t object_bytes(const KmemCache* c, const Slab* s) {
    return uint64_t{s->starts} / stride_excess(c) * c->stride_;
  }
  // The same with c's node lock held: no division.
  static uint64_t object_bytes_locked(const KmemCache* c, const Slab* s) {
    return uint64_t{s->objects} * c->stride_;
  }
  // For any offset below 2^32, with the product above: offset = k * stride
  // gives exactly k * e (no wrap: k * e <= k * stride < 2^32), growing with
  // k since e >= 1, and a non-multiple gives at least m > B >= objects * e.
  // So offset is the start of one of s's objects (a multiple k * stride
  // with k < objects) iff offset * m mod 2^64 < objects * e == s->starts:
  // the range test and the multiple test in one compare.
  PF_FAST_PATH static bool starts_object(const KmemCache* c, const Slab* s, uint32_t offset) {
    return slab_detail::starts_object(c->stride_magic_, s->starts, offset);
  }
  PF_FAST_PATH static bool at_object_start(const KmemCache* c, const Slab* s, const void* p) {
    const uint64_t offset = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(s->base);
    if ((offset >> 32) != 0) return false;
    return starts_object(c, s, static_cast<uint32_t>(offset));
  }
  // The same for a p known to lie in s's block (its frame's descriptor names
  // s), in 32 bits: p - base is then above -2^32 + B and below B, so its
  // low half is p's offset when p >= base, and otherwise at least 2^32 - B,
  // which starts_object refuses (it holds for every 32-bit offset).
  PF_FAST_PATH static bool at_object_start_in_block(const KmemCache* c, const Slab* s, const void* p) {
    const uint32_t offset = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(p)) -
                            static_cast<uint32_t>(reinterpret_cast<uintptr_t>(s->base));
    return starts_object(c, s, offset);
  }
  static uint32_t object_index(const KmemCache* c, const Slab* s, const void* p);

  KmemCache* create_cache(const char* name, size_t size, size_t align, unsigned flags,
                          ObjectCtor ctor, bool kmalloc);
  bool setup_cache(KmemCache* c, const char* name, size_t size, size_t align, unsigned flags,
                   ObjectCtor ctor, bool bootstrap);
  bool allocate_cpu_arrays(KmemCache* c, uint32_t depot_wanted);
  void release_cpu_arrays(KmemCache* c);
  void link_cache(KmemCache* c);
  void unlink_cache(KmemCache* c);
  void destroy_empty_cache(KmemCache* c);
  size_t report_live_objects(KmemCache* c, ErrorCode code, const char* op, const void* caller);

  CpuAccess hold(unsigned cpu) const {
    return CpuAccess(gates_[cpu], cpu < cpu_count_ && cpu != platform::cpu_id());
  }
  auto all_gates() const {
    return [this](unsigned i) -> const CpuGate& { return gates_[i]; };
  }
  // CPU cpu's array of c (c->cpu_ != nullptr), for the slow paths.
  PF_FAST_PATH CpuArray& cpu_array(const KmemCache* c, unsigned cpu) const {
    return reinterpret_cast<slab_detail::CpuArrayLine*>(c->cpu_)[cpu].array;
  }
  // The capacity of each stack of c's pairs (slab_detail::CpuArray).
  static uint32_t stack_limit(const KmemCache* c) { return c->cpu_limit_ / 2; }
  // CPU cpu's entries (both stacks' halves, E_i of slab_detail::CpuArray).
  void** cpu_entries_of(const KmemCache* c, unsigned cpu) const;
  // Whether the fast paths serve c, and making it so (KmemCache::fast_cpu_).
  // The view follows the arrays (set when they are made or released, while
  // no fast path can reach the cache); retiring only closes the room
  // (stop_fast: one store), so a racing free sees the real arrays with
  // either limit, never the empty table with room in it.
  static bool fast(const KmemCache* c) { return c->fast_limit_ != 0; }
  static bool may_serve(const KmemCache* c) {
    return c->cpu_ != nullptr && c->cpu_limit_ != 0 && !c->init_on_alloc_ && !c->init_on_free_;
  }
  static void set_fast_view(KmemCache* c) {
    const bool arrays = may_serve(c);
    c->fast_cpu_ = arrays ? reinterpret_cast<slab_detail::CpuArrayLine*>(c->cpu_) : slab_detail::kNoCpuArrays;
    c->fast_limit_ = arrays && !c->retired_ ? stack_limit(c) : 0;
  }
  static void stop_fast(KmemCache* c) { c->fast_limit_ = 0; }

  // Slow paths. The node lock is taken inside; callers may hold a CPU lock.
  void* cache_alloc_slow(KmemCache* c, gfp_t flags, const void* caller, size_t requested);
  // gate_held: the caller holds this CPU's gate (refill); constructors run
  // with it held and marked (see the Constructors paragraph at the top).
  Slab* grow(KmemCache* c, gfp_t flags, bool gate_held = false);
  // A grown slab joins the cache (empty list, counters); node lock held.
  void add_slab_locked(KmemCache* c, Slab* s);
  // A slab leaves the cache's counters (it is on no list); node lock held.
  void drop_slab_locked(KmemCache* c, Slab* s);
  size_t release_slabs(KmemCache* c, Slab* chain);
  size_t release_empty_slabs(KmemCache* c);
  uint32_t take_or_grow(KmemCache* c, void** out, uint32_t want, gfp_t flags, Finding* f,
                        bool gate_held = false);
  // A call of the slab layer made by a constructor, on the CPU running it
  // (its gate held and marked by grow): reported (InvalidArgument, naming
  // `op`) and true, for the caller to refuse; false otherwise. One load.
  bool called_from_ctor(const char* op, const void* caller) const;
  // Fills an empty stack (a pair's `out`) with cpu_batch_ objects at most.
  uint32_t refill(KmemCache* c, CpuStack<void*>& a, gfp_t flags, Finding* f);
  // Gives the n oldest entries to the depot (to_depot, while it has room)
  // and the rest back to their slabs (adding frames released to *frames);
  // returns a duplicate it dropped (to report once the caller has
  // unlocked), or nullptr.
  void* flush(KmemCache* c, CpuStack<void*>& a, uint32_t n, size_t* frames, bool to_depot);
  void give_back_locked(KmemCache* c, Slab* s, void* head, uint32_t freed, Slab** release);
  // Entries e[0, n) back to their slabs; kFromDepot: depot entries (marked
  // kInDepot), else array entries (kInArray). Returns a duplicate dropped.
  template <bool kFromDepot>
  void* return_to_slabs_locked(KmemCache* c, void* const* e, uint32_t n, Slab** release);
  template <bool kFromDepot, typename Link>
  void* return_to_slabs_locked(KmemCache* c, void* const* e, uint32_t n, Slab** release, Link link);
  // Depot <-> array moves under the node lock (see slab.cpp).
  uint32_t take_depot_locked(KmemCache* c, void** out, uint32_t want, Finding* f);
  uint32_t put_depot_locked(KmemCache* c, void* const* e, uint32_t n, void** duplicate);
  size_t drain_depot(KmemCache* c);  // frames released
  static bool keep_empty_locked(KmemCache* c);
  void report_flush_duplicate(KmemCache* c, void* duplicate, const void* caller);
  // requested: what kmalloc was asked for (debug caches track it); 0: the object size.
  void* alloc_direct(KmemCache* c, gfp_t flags, const void* caller, size_t requested);
  // Both return frames released to the buddy as a consequence.
  size_t free_direct(KmemCache* c, Slab* s, void* obj, const void* caller);
  size_t free_internal(KmemCache* bootstrap, void* obj);
  size_t drain_cpu_arrays(KmemCache* c);  // frames released
  // Under the node lock: take one object from the slab lists / give one back.
  void* take_object_locked(KmemCache* c, Finding* f = nullptr);
  void put_object_locked(KmemCache* c, Slab* s, void* obj, Slab** release);
  // Up to `want` objects for a per-CPU array, whole freelist runs at a time.
  uint32_t take_objects_locked(KmemCache* c, void** out, uint32_t want, Finding* f);
  template <typename Link>
  uint32_t take_objects_locked(KmemCache* c, void** out, uint32_t want, Finding* f, Link link);
  template <typename Link>
  void take_empty_locked(KmemCache* c, Slab* s, void** out, uint32_t take, Link link);
  void settle_locked(KmemCache* c, Slab* s, bool was_full, Slab** release);
  void list_move_locked(KmemCache* c, Slab* s, uint8_t to);
  static slab_detail::SlabList& list_of(KmemCache* c, uint8_t id);

  static void* free_link_get(const KmemCache* c, const void* obj);
  static void free_link_set(const KmemCache* c, void* obj, void* next);

  void report_bad_pointer(const Located& where, const void* p, const char* op,
                          const void* caller) const;
  void report_object_error(ErrorCode code, const char* detail, const void* p,
                           const KmemCache* c, const void* caller) const;
  void* kmalloc_large(size_t size, size_t align, gfp_t flags);
  // The retries after reclaim (slab_reclaim.cpp): alloc_slow, cache_alloc_slow,
  // kmalloc_large and cache_create call them when their page request failed.
  [[gnu::noinline, gnu::cold]] void* alloc_retry(KmemCache* c, gfp_t flags, const void* caller,
                                                 size_t requested);
  [[gnu::noinline, gnu::cold]] void* kmalloc_large_retry(size_t size, size_t align, gfp_t flags);
  [[gnu::noinline, gnu::cold]] KmemCache* create_retry(const char* name, size_t size, size_t align,
                                                       unsigned flags, ObjectCtor ctor);
  // Usable bytes of the allocation at p, or 0 after reporting why p is not one.
  size_t usable_size(const void* p, const char* op, const void* caller) const;
  struct VerifyFailure {
    ErrorCode code = ErrorCode::VerifyFailed;
    const char* detail = nullptr;  // nullptr: clean
    uintptr_t address = 0;
    const char* cache = nullptr;
  };
  VerifyFailure verify_cache(const KmemCache* c) const;

  // gates_[i] guards CPU i's array in every cache; gates_[cpu_count_] the
  // shared arrays of callers without a CPU (see cpu_cache.hpp). One per
  // value cpu_id() can take, so the fast paths index them untested:
  //   gates_[i] is closed  <=>  i >= fast_cpus_
  // (every gate from cpu_count_ on for good, the shared one included; all of
  // them while the fast paths are off: set_fast_paths, verify() checks).
  // First member: a gate's address is this + cpu * 64, one shift.
  ClosedCpuGate gates_[kCpuIdBound];
  PageAllocator* pages_ = nullptr;
  PhysMap phys_;
  // A copy of pages_->lookup_table(), so a free finds its descriptor one
  // load sooner (not through pages_). Set by init, refreshed by grow()
  // (release; the fast paths load it with acquire: plain moves on x86).
  // Invariant (verify()): while pages_ != nullptr,
  //   pages_->lookup_was_published(lookup_): the current table or one it
  // replaced, which answers right for every frame it knew, and sends the
  // frames of later hot-adds to the walk (page_alloc.hpp). A slab in
  // hot-added memory is grown after the add is published, and grow()
  // refreshes the copy, so such slabs are found directly too.
  // While pages_ == nullptr (before init, after a failed init, after a
  // teardown that found nothing live),
  //   lookup_ == unbound_lookup_   (verify(); never null)
  // an empty table (PageAllocator::empty_lookup_table), or the owner's
  // unbound_lookup_table(), which is empty while the owner is uninitialised
  // and otherwise finds no frame carrying a slab of this layer (it holds
  // none: teardown unbinds only when nothing is live). Either way every
  // pointer goes to miss(): the walk finds nothing without pages_
  // (with_slab), so kfree, kfree_sized and kmem_cache_free reach their slow
  // paths, which refuse them by name (report_uninitialised), with no test
  // added to their fast paths.
  const void* lookup_ = PageAllocator::empty_lookup_table();
  unsigned cpu_count_ = 0;  // 0 until init: every call takes the slow path
  unsigned fork_self_ = 0;      // fork_prepare's CPU, for fork_release
  unsigned long fork_irq_ = 0;
  bool debug_ = false;
  bool init_on_alloc_ = false;
  bool init_on_free_ = false;
  bool freelist_random_ = false;
  uint64_t freelist_seed_ = 0;
  std::atomic<uint64_t> fail_at_{0};
  // cpu_count_ while the fast paths may run; 0 before init, while fault
  // injection is armed and from teardown on. The fast paths do not read it:
  // they meet closed gates (gates_ above; set_fast_paths keeps the two in
  // step). fast_cpus_ != 0 => every kmalloc_by_size_ entry is a cache
  // (kmalloc's fast path does not test it for null; verify() checks).
  std::atomic<uint32_t> fast_cpus_{0};
  // Opens the gates of CPUs [0, cpu_count_) (on) or closes them (off), each
  // under its lock, and sets fast_cpus_; gates from cpu_count_ on stay closed.
  void set_fast_paths(bool on);
  std::atomic<uint64_t> fail_calls_{0};
  uint32_t next_id_ = 1;
  mutable SpinLock caches_lock_;
  KmemCache* caches_ = nullptr;  // every cache but the two bootstrap ones, oldest first
  KmemCache* caches_tail_ = nullptr;
  KmemCache cache_cache_;        // "kmem_cache": where KmemCache records live
  KmemCache slab_cache_;         // "kmem_slab": off-slab headers
  std::array<KmemCache*, kKmallocClassCount> kmalloc_caches_ = {};
  // kmalloc_by_size_[(size - 1) / 8] == kmalloc_caches_[kmalloc_class_index(size)]
  // for 1 <= size <= kKmallocMaxSize: kmalloc finds its cache in one load
  // (8 KiB of table; every class is a multiple of 8, so the 8-byte granules
  // lose nothing).
  std::array<KmemCache*, kKmallocMaxSize / 8> kmalloc_by_size_ = {};
  // What lookup_ holds while unbound (see there), chosen at construction.
  // Last: no field the fast paths read moves.
  const void* unbound_lookup_ = PageAllocator::empty_lookup_table();
  // The page allocator given at construction, the only one init accepts
  // then (its unbound table must find none of another layer's slabs); null:
  // any.
  const PageAllocator* owner_ = nullptr;
};

}  // namespace pf
