// slab.cpp — caches, slabs, per-CPU object arrays and the checks on the free
// path. See slab.hpp for the layout, the invariants and the lock order.
//
// The fast paths (inline in slab.hpp: cache_alloc, kmalloc, and cache_free,
// kfree after the O(1) slab lookup) touch only the calling CPU's array,
// through the allocator's CpuGate of that CPU (cpu_cache.hpp): no lock, no
// atomic read-modify-write, no call; pop or push one pointer. A CPU's
// array is a pair of stacks (slab_detail::CpuArray): frees push onto `in`,
// allocations pop from `out`, and an allocation that finds `out` empty
// turns the pair (alloc_turn: lock-free, out of line, once per `out`'s
// worth of allocations). An empty pair is refilled with cpu_batch_ objects
// (into `out`) from the cache's slabs in one
// node-lock hold, a slab's freelist at a time (take_objects_locked: a tight
// loop per slab, its counters and list settled once; an empty slab's
// objects are taken by address, its freelist not read: take_empty_locked);
// a full `in` turns the pair when `out` is empty, else gives its cpu_batch_
// oldest objects back the same way, a run of one slab's objects at a time
// (flush). Pairs are sized by bytes (cpu_limit_for: up to 1032 small
// objects, 516 a stack, so a burst of 1024 frees never leaves the CPU when
// `out` is empty) and batches are whole slabs where a slab fits in one
// (cpu_batch_for). Between the arrays and the slabs sits the cache's depot
// (Bonwick's magazine depot, SLAB's shared array): a flush moves its
// objects into the depot while it has room, and a refill takes from the
// depot first, so a burst bigger than an array (1024 objects of 1 KiB,
// say) moves between the arrays and the depot by copying pointers; only
// what the depot cannot hold goes to the slabs. The depot's objects and the
// empty slabs kept for reuse share one budget (the cache's reserve, see
// keep_empty_locked; it grows a slab whenever one given back past it had to
// be grown again), and cache_shrink / pf_reclaim give both back. The
// per-object work left is what the hardening needs: check and rewrite each
// object's mark ("in an array", "in the depot") at each move, decode and
// check each link taken from a slab. A free from another CPU goes into the
// freeing CPU's array; the object reaches the depot or its slab whenever
// that array flushes. The bulk calls bypass the array beyond what it holds:
// allocations take from the depot, then the slabs; frees go to the depot
// while it has room (caches of few objects per slab), else straight to their
// slabs, one node-lock hold per run.
#include "slab.hpp"

#include <new>

#include "error.hpp"
#include "page_alloc.hpp"

namespace pf {

namespace {

using slab_detail::CpuArray;
using slab_detail::Slab;
using slab_detail::SlabList;

using namespace slab_detail;  // kList*

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

void set_header(FrameDescriptor& d, Slab* s) {
  const auto v = reinterpret_cast<uintptr_t>(s);
  d.link_next = static_cast<uint32_t>(v);
  d.link_prev = static_cast<uint32_t>(v >> 32);
}

struct Layout {
  unsigned order = 0;
  uint32_t objects = 0;
  bool off_slab = false;
  uint32_t leftover = 0;  // bytes of the block neither objects nor an on-slab header
};

// The smallest slab order whose waste (leftover plus header) is at most 1/8
// of the block and that holds at least kMinObjects objects (or is order
// kMinObjectsOrder: big objects), as SLUB's slub_min_objects: a slab of one
// 4 KiB object would cost a page allocation, a header and two list moves per
// object whenever the cache grows or shrinks. Every cache's slab header
// lives in kmem_slab, out of line: a header right after the last object
// would be the first thing an overflow of it corrupts (issue 11). Only the bootstrap caches (kmem_cache,
// kmem_slab: the allocator's own records) keep theirs on the slab.
constexpr uint32_t kMinObjects = 8;
constexpr unsigned kMinObjectsOrder = 3;
Layout choose_layout(uint32_t stride, bool force_on_slab) {
  Layout best{};
  uint64_t best_waste_num = 1, best_waste_den = 0;  // waste fraction of `best` (none yet)
  for (unsigned order = 0; order <= kMaxSlabOrder; ++order) {
    const uint64_t bytes = kPageSize << order;
    for (int on = 1; on >= 0; --on) {
      if (!on && force_on_slab) continue;
      if (on && !force_on_slab) continue;
      // On-slab (bootstrap) blocks also leave their first kSlabHeaderSize
      // bytes unused: a guard between their records and whatever object
      // ends the block below (an overflow of it lands there).
      const uint64_t room = on ? bytes - 2 * kSlabHeaderSize : bytes;
      uint64_t n = room / stride;
      if (n > kMaxObjectsPerSlab) n = kMaxObjectsPerSlab;
      if (n == 0) continue;
      const uint64_t leftover = room - n * stride;
      const uint64_t waste = leftover + kSlabHeaderSize;  // on or off slab, the header costs
      Layout l{order, static_cast<uint32_t>(n), !on, static_cast<uint32_t>(leftover)};
      if (waste * 8 <= bytes && (n >= kMinObjects || order >= kMinObjectsOrder)) return l;
      if (best_waste_den == 0 || waste * best_waste_den < best_waste_num * bytes) {
        best = l;
        best_waste_num = waste;
        best_waste_den = bytes;
      }
    }
  }
  return best;  // nothing within 1/8: the least wasteful order
}

// The fallback layout (SLUB's oo_min): the smallest order that holds one
// object, used when no block of the preferred order is free.
Layout min_layout(uint32_t stride, bool on_slab) {
  for (unsigned order = 0; order <= kMaxSlabOrder; ++order) {
    const uint64_t bytes = kPageSize << order;
    const uint64_t room = on_slab ? bytes - 2 * kSlabHeaderSize : bytes;
    uint64_t n = room / stride;
    if (n > kMaxObjectsPerSlab) n = kMaxObjectsPerSlab;
    if (n != 0)
      return Layout{order, static_cast<uint32_t>(n), !on_slab, static_cast<uint32_t>(room - n * stride)};
  }
  return Layout{};
}

// Per-CPU array capacity, sized by bytes as tcmalloc sizes its per-CPU
// caches: up to kCpuArrayBytes of objects per array, so small objects get
// many entries (a burst of 1024 64-byte objects stays in the CPU's array:
// no refill, no flush) and big ones few, within kCpuArrayMaxObjects
// entries. Never below Linux SLAB's tunables (`floor`: 126/62/30/14 by
// stride), and above them only within two bounds:
//   per-CPU memory: every array of one cache together holds at most
//     managed_bytes / kCpuArrayShare of objects (a small machine keeps the
//     floor);
//   the arrays' block (a fixed cost, paid when the cache is created):
//     (cpu_count + 1) arrays of pointers fill at most one block of
//     kCpuArrayBlockBytes and of 1/kCpuArrayBlockShare of the managed
//     memory, rounded down to a power of two (many CPUs, or a small
//     machine, get fewer entries each; the block is used, not rounded up).
// Counts are multiples of 8, so an array's entries fill whole cache lines
// (its header has a line of its own, see allocate_cpu_arrays). The count is
// the capacity of a CPU's pair of stacks (slab_detail::CpuArray), each
// stack holding half: the floors are even, so the halves are equal, as a
// turn needs. (Doubling the entries instead, a full count per stack, would
// double the arrays' block: on a 4 MiB machine with 16 CPUs, at the floor
// of 126, 17 lines + 17 * 1 KiB of entries fit an order-3 block and twice
// the entries need order 4: 32 KiB more per cache, some 640 KiB over the
// kmalloc caches; the pair keeps the memory of the one array it replaced.)
uint32_t cpu_limit_floor(uint32_t stride) {
  return stride <= 256 ? 126 : stride <= 1024 ? 62 : stride <= 4096 ? 30 : 14;
}
constexpr uint64_t kCpuArrayBytes = 512 * KiB;
constexpr uint32_t kCpuArrayMaxObjects = 1032;  // whole 64-byte lines of entries: room for a burst of 1024
constexpr uint64_t kCpuArrayShare = 512;
constexpr uint64_t kCpuArrayBlockBytes = 256 * KiB;
constexpr uint64_t kCpuArrayBlockShare = 8192;
// The arrays' block budget: 1/kCpuArrayBlockShare of the managed memory,
// at most kCpuArrayBlockBytes, a power of two, at least a page.
uint64_t cpu_block_budget(uint64_t managed_bytes) {
  uint64_t block = managed_bytes / kCpuArrayBlockShare;
  if (block > kCpuArrayBlockBytes) block = kCpuArrayBlockBytes;
  return block < kPageSize ? kPageSize : std::bit_floor(block);
}
uint32_t cpu_limit_for(uint32_t stride, unsigned cpu_count, uint64_t managed_bytes) {
  const uint32_t floor = cpu_limit_floor(stride);
  uint64_t n = kCpuArrayBytes / stride;
  const uint64_t arrays = uint64_t{cpu_count} + 1;
  const uint64_t by_memory = managed_bytes / kCpuArrayShare / arrays / stride;
  const uint64_t block = cpu_block_budget(managed_bytes);
  const uint64_t per_array = block / arrays;
  // Each array is its CPU's line plus its entries (allocate_cpu_arrays).
  const uint64_t by_block =
      per_array > slab_detail::kCpuArrayLine ? (per_array - slab_detail::kCpuArrayLine) / sizeof(void*) : 0;
  if (n > by_memory) n = by_memory;
  if (n > by_block) n = by_block;
  if (n > kCpuArrayMaxObjects) n = kCpuArrayMaxObjects;
  n = n / 8 * 8;  // whole lines of entries
  return n > floor ? static_cast<uint32_t>(n) : floor;
}

// Objects a refill takes and a flush gives back: half the pair's capacity
// (Linux SLAB's batchcount: half its one array), rounded to whole slabs when
// it holds at least one slab: a refill then takes whole empty slabs by
// address (take_empty_locked) instead of walking the rest of a slab it left
// partial, and a flush of objects allocated together gives whole slabs back.
// A refill fills one stack (`out`) and a flush empties part of one (`in`),
// so the batch is at most one stack's capacity, limit / 2 (limit is even):
// whole slabs rounded down when rounding to the nearest would not fit.
uint32_t cpu_batch_for(uint32_t limit, uint32_t objs_per_slab) {
  const uint32_t half = limit / 2;
  if (objs_per_slab == 0 || half < objs_per_slab) return half;
  const uint32_t whole = (half + objs_per_slab / 2) / objs_per_slab * objs_per_slab;
  return whole <= half ? whole : half / objs_per_slab * objs_per_slab;
}

// Empty slabs a cache with per-CPU arrays keeps instead of giving them back
// to the buddy at once: enough for a burst of kBurstObjects objects (or every
// CPU's array, cpu_count + 1 of them, twice over, if that is more), so a CPU
// freeing a burst and allocating it again (a batch of 1024, say) finds its
// slabs instead of freeing and re-growing each one through the page
// allocator (tcmalloc and mimalloc keep such bursts too). Bounded per cache
// to kEmptyReserveBytes of slab memory and to 1/kReserveShare of the managed
// memory (a 128 MiB machine keeps at most 2 MiB per cache), and never below
// `floor`. cache_shrink and pf_reclaim still give every empty slab back.
// The reserve counts slabs; a fallback slab (smaller than a preferred one,
// see grow) counts as one, so the byte bound holds whatever the mix.
constexpr uint64_t kEmptyReserveBytes = 4 * MiB;
// cache_alloc_bulk takes objects from the slabs at most this many per node-lock hold.
constexpr uint32_t kBulkStep = 256;
// cache_free_bulk fills the depot for caches with at most this many objects per slab.
constexpr uint32_t kBulkDepotObjects = 16;
constexpr uint64_t kReserveShare = 64;
constexpr uint64_t kBurstObjects = 1024;
// The byte bounds alone, in slabs: what the reserve may grow to
// (KmemCache::reserve_max_, see keep_empty_locked). At most
// kEmptyReserveBytes / kPageSize, so it fits the record's 16 bits.
uint32_t empty_reserve_cap(uint64_t slab_bytes, uint64_t managed_bytes) {
  uint64_t bytes = managed_bytes / kReserveShare;
  if (bytes > kEmptyReserveBytes) bytes = kEmptyReserveBytes;
  return slab_bytes == 0 ? 0 : static_cast<uint32_t>(bytes / slab_bytes);
}
static_assert(kEmptyReserveBytes / kPageSize <= 0xffff, "KmemCache::reserve_max_ is 16 bits");
uint32_t empty_reserve_for(uint32_t objs_per_slab, uint32_t cpu_limit, unsigned cpu_count,
                           uint64_t slab_bytes, uint32_t floor, uint64_t managed_bytes) {
  uint64_t objects = 2 * uint64_t{cpu_limit} * (cpu_count + 1);
  if (objects < kBurstObjects) objects = kBurstObjects;
  const uint64_t want = (objects + objs_per_slab - 1) / objs_per_slab;
  const uint64_t cap = empty_reserve_cap(slab_bytes, managed_bytes);
  const uint64_t n = want < cap ? want : cap;
  return n > floor ? static_cast<uint32_t>(n) : floor;
}

// Caches of objects up to kDepotMaxStride bytes have a depot. Bigger ones
// give their objects straight back to their slabs. History: with every
// free object's link slot at one offset, the depot cost time at 2-4 KiB:
// its moves (a check and a mark in each object, in last-in first-out
// order) missed the caches more than the slab path's per-slab work saved
// (3cb6280, CPU time: 2 KiB 17 -> 22 ns, 4 KiB 22 -> 35 ns per object with
// the depot, though with 30% fewer instructions), and most of a batch's
// time was the fast paths' own touches of the slots (at a 4 KiB stride
// every slot fell in one L1 set and 1/64 of the L2 sets, so each came from
// L3: a build without the marks took 8-10 ns less). Since the slots are
// spread over the objects' lines (slab_detail::LinkAt) a batch of 1024
// objects stays in L2, and the depot pays up to 4 KiB too (i9-spread,
// alternating runs, CPU time per object of slab.batch1024, cache/kmalloc:
// 2 KiB 7.7/8.7 -> 6.4/7.8 ns, 4 KiB 8.3/9.2 -> 7.5/8.5 ns; before the
// spread 18.5/19.0 and 27.8/30.0).
constexpr uint32_t kDepotMaxStride = 4096;
// Objects the depot holds at most: one burst (kBurstObjects), within the
// cache's reserve (reserve_empty slabs' worth of objects: the depot and the
// empty slabs kept share that budget, see keep_empty_locked), with its
// pointers within the arrays' block budget; whole lines of entries.
uint32_t depot_limit_for(uint32_t reserve_objects, uint64_t managed_bytes) {
  uint64_t n = kBurstObjects;
  if (n > reserve_objects) n = reserve_objects;
  const uint64_t by_block = cpu_block_budget(managed_bytes) / sizeof(void*);
  if (n > by_block) n = by_block;
  return static_cast<uint32_t>(n / 8 * 8);
}

void copy_name(char* dst, const char* src) {
  unsigned i = 0;
  for (; src != nullptr && src[i] != '\0' && i < kCacheNameLength; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

}  // namespace

// ---- lookup: pointer -> slab, O(1) through the descriptors ------------------

SlabAllocator::Located SlabAllocator::locate_slow(const void* p) const {
  Located r;
  r.pfn = to_pfn(phys_.to_phys(p));
  FrameDescriptor* d = descriptor_of(r.pfn);
  if (d == nullptr) return r;  // NotManaged
  r.target = Target::NotSlab;
  // The head of the block holding pfn is the first non-Tail frame among
  // pfn rounded down to 2^k. A valid object is found by k = kMaxSlabOrder;
  // going on to kMaxOrder only names what an invalid pointer points into.
  Pfn candidate = r.pfn;
  for (unsigned k = 0;;) {
    const FrameState st = frame_state(*d);
    if (st != FrameState::Tail) {
      if ((r.pfn - candidate) >= (uint64_t{1} << frame_order(*d))) return r;  // not inside: inconsistent
      r.head = d;
      r.head_pfn = candidate;
      if (st == FrameState::Slab) {
        r.target = Target::SlabObject;
        r.slab = slab_detail::header_of(*d);
      } else if (st == FrameState::Allocated && frame_owner(*d) == kOwnerKmallocLarge) {
        r.target = Target::LargeBlock;
      }
      return r;
    }
    Pfn next = candidate;
    while (next == candidate) {
      if (++k > kMaxOrder) return r;
      next = Pfn{r.pfn.value & ~((uint64_t{1} << k) - 1)};
    }
    candidate = next;
    d = descriptor_of(candidate);
    if (d == nullptr) return r;
  }
}

uint32_t SlabAllocator::object_index(const KmemCache* c, const Slab* s, const void* p) {
  const uint64_t offset = reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(s->base);
  return static_cast<uint32_t>((static_cast<unsigned __int128>(offset) * c->stride_magic_) >> 64);
}

// ---- freelist links ---------------------------------------------------------

void* SlabAllocator::free_link_get(const KmemCache* c, const void* obj) {
  const auto* slot = reinterpret_cast<const uintptr_t*>(c->link_at().slot(obj));
  uintptr_t v = *slot;
  if (c->freelist_key_ != 0) v ^= c->freelist_key_ ^ reinterpret_cast<uintptr_t>(slot);
  return reinterpret_cast<void*>(v);
}

void SlabAllocator::free_link_set(const KmemCache* c, void* obj, void* next) {
  auto* slot = reinterpret_cast<uintptr_t*>(c->link_at().slot(obj));
  uintptr_t v = reinterpret_cast<uintptr_t>(next);
  if (c->freelist_key_ != 0) v ^= c->freelist_key_ ^ reinterpret_cast<uintptr_t>(slot);
  *slot = v;
}

// ---- slab lists (node lock held) -------------------------------------------

SlabList& SlabAllocator::list_of(KmemCache* c, uint8_t id) {
  return id == kListPartial ? c->partial_ : id == kListFull ? c->full_ : c->empty_;
}

namespace {
// s leaves *from (nullptr: it is on no list) and goes to the head of *to
// (nullptr: none), whose id is to_id. Inline, for the refill and flush
// loops, which know both lists without asking list_of.
inline void relink(SlabList* from, SlabList* to, uint8_t to_id, Slab* s) {
  if (from != nullptr) {
    if (s->prev != nullptr) s->prev->next = s->next; else from->head = s->next;
    if (s->next != nullptr) s->next->prev = s->prev;
    --from->count;
  }
  s->list = to_id;
  s->prev = nullptr;
  s->next = nullptr;
  if (to == nullptr) return;
  s->next = to->head;
  if (to->head != nullptr) to->head->prev = s;
  to->head = s;
  ++to->count;
}
}  // namespace

void SlabAllocator::list_move_locked(KmemCache* c, Slab* s, uint8_t to) {
  relink(s->list != kListNone ? &list_of(c, s->list) : nullptr,
         to != kListNone ? &list_of(c, to) : nullptr, to, s);
}

void* SlabAllocator::take_object_locked(KmemCache* c, Finding* f) {
  Slab* s = c->partial_.head != nullptr ? c->partial_.head : c->empty_.head;
  if (s == nullptr) return nullptr;
  void* obj = s->freelist;
  void* next = free_link_get(c, obj);
  if (next != nullptr && !at_object_start(c, s, next)) {
    // The link was overwritten (its key makes a stray write decode to
    // garbage). Debug caches rebuild the freelist from the objects' states;
    // others have no such record: the rest of this slab's freelist is
    // quarantined (counted in use, never handed out), never followed.
    if (f != nullptr && f->code == ErrorCode::Count)
      *f = {ErrorCode::SlabFreelistCorrupted,
            c->debug_ ? "a free object's freelist link decodes to no object of its slab "
                        "(freelist rebuilt from the objects' states)"
                      : "a free object's freelist link decodes to no object of its slab "
                        "(the rest of the slab's freelist is quarantined)",
            obj};
    if (c->debug_) {
      rebuild_freelist_locked(c, s);
      return take_object_locked(c, nullptr);
    }
    const uint32_t lost = s->objects - s->inuse - 1;
    s->inuse += lost;
    c->inuse_ += lost;
    next = nullptr;
  }
  *link_slot(c, obj) = 0;  // handed out: no longer looks free (see looks_free)
  s->freelist = next;
  s->head->aux = static_cast<uint16_t>(++s->inuse);
  ++c->inuse_;
  if (s->inuse == s->objects)
    list_move_locked(c, s, kListFull);
  else if (s->list == kListEmpty)
    list_move_locked(c, s, kListPartial);
  return obj;
}

bool SlabAllocator::on_freelist_locked(const KmemCache* c, const Slab* s, const void* obj) const {
  uint32_t steps = s->objects;
  for (void* p = s->freelist; p != nullptr && steps-- != 0; p = free_link_get(c, p)) {
    if (p == obj) return true;
    if (!at_object_start(c, s, p)) return false;  // corrupted: take_object_locked names it
  }
  return false;
}

void SlabAllocator::put_object_locked(KmemCache* c, Slab* s, void* obj, Slab** release) {
  const bool was_full = s->list == kListFull;
  free_link_set(c, obj, s->freelist);
  s->freelist = obj;
  s->head->aux = static_cast<uint16_t>(--s->inuse);
  --c->inuse_;
  settle_locked(c, s, was_full, release);
}

// Whether one more empty slab may be kept: the empty slabs and the depot's
// objects share the cache's reserve, reserve_empty_ + reserve_extra_ slabs'
// worth of objects, so what a cache keeps for the next burst is bounded the
// same whichever of the two holds it. A slab refused here goes back to the
// buddy; should the cache then have to grow one (add_slab_locked), the
// reserve was smaller than the swing between its frees and its allocations
// and grows by a slab (reserve_extra_), up to reserve_max_. Without that, a
// steady swing wider than the reserve (one thread frees a ring of 2048
// 64-byte objects that another allocates, and the two take turns: the
// cross-thread object bench on a busy machine) gave 16 slabs back and grew
// 16 again for every 2048 objects, each through the page allocator (a
// remote free of the page) and kmem_slab (its header).
bool SlabAllocator::keep_empty_locked(KmemCache* c) {
  const bool keep = (uint64_t{c->empty_.count} + 1) * c->objs_per_slab_ + c->depot_count_ <=
                    (uint64_t{c->reserve_empty_} + c->reserve_extra_) * c->objs_per_slab_;
  if (!keep) c->gave_back_ = true;
  return keep;
}

// After objects went back to s: an empty slab joins the reserve of empty
// ones, or (the reserve full) leaves the cache through *release; a slab that
// was full becomes partial.
void SlabAllocator::settle_locked(KmemCache* c, Slab* s, bool was_full, Slab** release) {
  if (s->inuse == 0) {
    if (!keep_empty_locked(c)) {
      list_move_locked(c, s, kListNone);
      drop_slab_locked(c, s);
      s->next = *release;
      *release = s;
    } else {
      list_move_locked(c, s, kListEmpty);
    }
  } else if (was_full) {
    list_move_locked(c, s, kListPartial);
  }
}

// ---- growing and releasing slabs (no node lock held) ------------------------

void SlabAllocator::add_slab_locked(KmemCache* c, Slab* s) {
  // A slab given back since the last one grew was needed again: one more
  // kept next time (keep_empty_locked).
  if (c->gave_back_ && uint32_t{c->reserve_empty_} + c->reserve_extra_ < c->reserve_max_) ++c->reserve_extra_;
  c->gave_back_ = false;
  ++c->slab_count_;
  c->total_objects_ += s->objects;
  if (s->order != c->order_) ++c->fallback_slabs_;
  list_move_locked(c, s, kListEmpty);
}

void SlabAllocator::drop_slab_locked(KmemCache* c, Slab* s) {
  --c->slab_count_;
  c->total_objects_ -= s->objects;
  if (s->order != c->order_) --c->fallback_slabs_;
}

// A new slab of the preferred order, or (none free) of the minimum order,
// as SLUB's allocate_slab: the preferred attempt is quiet and cheap
// (__GFP_NOWARN | __GFP_NORETRY: no log line, no draining every CPU's page
// cache), the fallback is an ordinary request, so the cache fails only when
// no block of min_order_ can be had. A fallback slab has its own object
// count and no colour (its leftover is another size).
// Of the caller's flags the page layer hears __GFP_NOWARN and __GFP_NORETRY
// (a kmalloc that would rather fail than drain every CPU's page cache must
// not drain them through its slab's growth); zones play no part (slab
// memory comes from any zone: kmalloc.cpp), nor __GFP_ZERO (per object).
static constexpr gfp_t kGrowFlags = __GFP_NOWARN | __GFP_NORETRY;
SlabAllocator::Slab* SlabAllocator::grow(KmemCache* c, gfp_t flags, bool gate_held) {
  Order order{c->order_};
  uint32_t n = c->objs_per_slab_;
  PhysAddr block;
  if (c->min_order_ != c->order_) {
    block = pages_->alloc_pages(order, __GFP_NOWARN | __GFP_NORETRY);
    if (block.is_null()) {
      order = Order{c->min_order_};
      n = c->min_objs_;
    }
  }
  if (block.is_null()) block = pages_->alloc_pages(order, flags & kGrowFlags);
  if (block.is_null()) return nullptr;
  // The block may lie in memory hot-added since the copy was taken.
  detail::store_release(lookup_, pages_->lookup_table());
  std::byte* mem = pages_->to_virt(block);
  Slab* s;
  if (c->off_slab_) {
    s = static_cast<Slab*>(alloc_direct(&slab_cache_, flags & kGrowFlags, nullptr, 0));
    if (s == nullptr) {
      pages_->free_pages(block, order);
      return nullptr;
    }
  } else {
    s = reinterpret_cast<Slab*>(mem + order.bytes() - kSlabHeaderSize);
  }
  uint32_t colour = 0;
  if (c->colour_count_ > 1 && order.value == c->order_)
    colour = c->next_colour_.fetch_add(1, std::memory_order_relaxed) % c->colour_count_ *
             c->colour_step_;
  s->next = s->prev = nullptr;
  s->cache = c;
  s->base = mem + colour + (c->off_slab_ ? 0 : kSlabHeaderSize);  // the guard: see choose_layout
  s->head = descriptor_of(to_pfn(block));
  s->cpus = c->cpu_ != nullptr ? reinterpret_cast<slab_detail::CpuArrayLine*>(c->cpu_) : slab_detail::kNoCpuArrays;
  s->inuse = 0;
  s->starts = static_cast<uint32_t>(n * stride_excess(c));
  s->objects = static_cast<uint16_t>(n);
  s->list = kListNone;
  s->order = static_cast<uint8_t>(order.value);

  // Populate: construct every object once, and link them in address order,
  // or (SLAB_FREELIST_RANDOM) in the order start, start + step, ... mod n
  // with a random start and a random step coprime to n: every object once,
  // at no memory cost.
  // A constructor is the caller's code: it runs with this CPU's gate held
  // and marked busy, so that a call it makes back into the slab layer is
  // refused by name (called_from_ctor) rather than waiting for that lock.
  const unsigned ctor_cpu = c->ctor_ != nullptr ? this_cpu() : cpu_count_;
  const bool mark = ctor_cpu < cpu_count_;
  unsigned long irq = 0;
  if (mark && !gate_held) {
    irq = platform::irq_save();
    gates_[ctor_cpu].lock().lock();
  }
  if (mark) gates_[ctor_cpu].set_owner_busy_locked(true);
  std::byte* obj = s->base;
  for (uint32_t i = 0; i < n; ++i, obj += c->stride_) {
    if (c->ctor_ != nullptr) c->ctor_(obj);
    if (c->debug_) debug_populate(c, obj);
  }
  if (mark) gates_[ctor_cpu].set_owner_busy_locked(false);
  if (mark && !gate_held) {
    gates_[ctor_cpu].lock().unlock();
    platform::irq_restore(irq);
  }
  uint32_t at = 0, step = 1;
  if (c->random_ && n > 1) {
    uint64_t z = c->random_state_.fetch_add(0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    at = static_cast<uint32_t>(z % n);
    step = 1 + static_cast<uint32_t>((z >> 32) % (n - 1));
    auto gcd = [](uint32_t a, uint32_t b) {
      while (b != 0) {
        const uint32_t t = a % b;
        a = b;
        b = t;
      }
      return a;
    };
    while (gcd(step, n) != 1) step = step % (n - 1) + 1;
  }
  s->freelist = s->base + size_t{at} * c->stride_;
  for (uint32_t i = 0; i < n; ++i) {
    std::byte* cur = s->base + size_t{at} * c->stride_;
    at += step;
    if (at >= n) at -= n;
    free_link_set(c, cur, i + 1 < n ? s->base + size_t{at} * c->stride_ : nullptr);
  }

  FrameDescriptor& d = *s->head;
  // Tails first: a tail tag names a header only once the block is a slab.
  for (uint64_t i = 1; i < order.frames(); ++i) {
    FrameDescriptor& t = s->head[i];
    t.owner = c->id_;
    set_header(t, s);
  }
  set_frame_owner(d, c->id_);
  d.aux = 0;
  set_header(d, s);
  set_frame_state(d, FrameState::Slab);
  return s;
}

size_t SlabAllocator::release_slabs(KmemCache* c, Slab* chain) {
  size_t frames = 0;
  while (chain != nullptr) {
    Slab* s = chain;
    chain = s->next;  // an on-slab header goes away with its block
    const Order order{s->order};
    const PhysAddr block = block_of(s);
    FrameDescriptor& d = *s->head;
    for (uint64_t i = 1; i < order.frames(); ++i) {  // the tail tags (see grow)
      s->head[i].owner = 0;
      s->head[i].link_next = s->head[i].link_prev = 0;
    }
    set_frame_owner(d, 0);
    set_home(d, kNoHomeCpu);
    d.link_next = d.link_prev = 0;
    set_frame_state(d, FrameState::Allocated);  // a plain block again, as free_pages wants
    pages_->free_pages(block, order);
    frames += order.frames();
    // The header's own slab may empty and go back too: count it.
    if (c->off_slab_) frames += free_internal(&slab_cache_, s);
  }
  return frames;
}

size_t SlabAllocator::release_empty_slabs(KmemCache* c) {
  Slab* chain;
  {
    LockGuard g(c->node_lock_);
    chain = c->empty_.head;  // already linked through `next`
    for (Slab* s = chain; s != nullptr; s = s->next) {
      s->list = kListNone;
      drop_slab_locked(c, s);
    }
    c->empty_ = SlabList{};
    // Shrink and reclaim start the reserve over from its base.
    c->reserve_extra_ = 0;
    c->gave_back_ = false;
  }
  return release_slabs(c, chain);
}

// ---- per-CPU arrays ----------------------------------------------------------

// Takes up to `want` objects for a per-CPU array under the node lock, a
// slab at a time: each slab's freelist is walked in one tight loop (decode
// the link, check it lands on an object of the slab, mark the object "in an
// array" in the slot just read) and its counters and list are settled once.
// Objects go to out[want - 1], out[want - 2], ... (pops come from the top, so
// the lowest address goes out first); returns how many were taken.
uint32_t SlabAllocator::take_objects_locked(KmemCache* c, void** out, uint32_t want, Finding* f) {
  // One copy of the loops per form of the slot (LinkAt::visit).
  return c->link_at().visit([&](const auto link) { return take_objects_locked(c, out, want, f, link); });
}

template <typename Link>
uint32_t SlabAllocator::take_objects_locked(KmemCache* c, void** out, uint32_t want, Finding* f, Link link) {
  uint32_t got = 0;
  const uintptr_t key = c->freelist_key_;
  while (got < want) {
    Slab* s = c->partial_.head != nullptr ? c->partial_.head : c->empty_.head;
    if (s == nullptr) break;
    const uint32_t avail = s->objects - s->inuse;
    if (avail == 0) {  // never on partial or empty (verify()); never loop on it
      list_move_locked(c, s, kListFull);
      continue;
    }
    const uint32_t room = want - got;
    const uint32_t take = avail < room ? avail : room;
    if (s->inuse == 0 && !c->random_) {
      take_empty_locked(c, s, out + (want - got - take), take, link);
      got += take;
      continue;
    }
    std::byte* obj = static_cast<std::byte*>(s->freelist);
    uint32_t i = 0;
    for (; i < take && obj != nullptr; ++i) {
      auto* slot = reinterpret_cast<uintptr_t*>(link.slot(obj));
      auto* next = reinterpret_cast<std::byte*>(*slot ^ key ^ reinterpret_cast<uintptr_t>(slot));
      *slot = kInArray ^ key ^ reinterpret_cast<uintptr_t>(slot);  // mark_in_array
      out[want - 1 - got - i] = obj;
      if (next != nullptr && !at_object_start(c, s, next)) {
        // An overwritten link (the key makes a stray write decode to
        // garbage): never followed; the rest of this slab's freelist is
        // quarantined (counted in use, never handed out).
        if (f != nullptr && f->code == ErrorCode::Count)
          *f = {ErrorCode::SlabFreelistCorrupted,
                "a free object's freelist link decodes to no object of its slab "
                "(the rest of the slab's freelist is quarantined)",
                obj};
        next = nullptr;
      }
      obj = next;
    }
    // A freelist shorter than the count says (its end overwritten with
    // what decodes to null): the missing objects stay quarantined too.
    const uint32_t counted = obj == nullptr ? avail : i;
    s->freelist = obj;
    s->inuse += counted;
    s->head->aux = static_cast<uint16_t>(s->inuse);
    c->inuse_ += counted;
    got += i;
    // s came from the head of partial, or (none partial) of empty.
    SlabList* from = s->list == kListPartial ? &c->partial_ : &c->empty_;
    if (s->inuse == s->objects)
      relink(from, &c->full_, kListFull, s);
    else if (from == &c->empty_)
      relink(from, &c->partial_, kListPartial, s);
  }
  return got;
}

// An empty slab holds every one of its objects: the first `take` by
// address go to out[take - 1], out[take - 2], ... (marked "in an array"),
// and the rest are linked again in address order, without reading the old
// freelist. Nothing on it is followed, so a link an overflow wrote there is
// simply dropped. (SLAB_FREELIST_RANDOM caches keep their shuffled order:
// take_objects_locked walks their lists.) Inlined into its one caller: at
// 2-4 KiB a refill takes 8 slabs of 8-16 objects, and a call per slab showed
// in the batch's instruction count.
template <typename Link>
[[gnu::always_inline]] inline void SlabAllocator::take_empty_locked(KmemCache* c, Slab* s, void** out,
                                                                   uint32_t take, Link link) {
  const uintptr_t key = c->freelist_key_;
  const uint32_t stride = c->stride_;
  const uint32_t n = s->objects;
  std::byte* obj = s->base;
  const uintptr_t in_array = kInArray ^ key;
  // Unrolled: at 2-4 KiB the loop runs 8-16 times per slab.
#pragma GCC unroll 4
  for (void** dst = out + take; dst != out; obj += stride) {
    const uintptr_t slot = link.slot(obj);
    *reinterpret_cast<uintptr_t*>(slot) = in_array ^ slot;  // mark_in_array
    *--dst = obj;
  }
  // The whole slab taken (a big-object refill): nothing left to link, and
  // no need for where the loop stopped.
  if (take == n) {
    s->freelist = nullptr;
    goto linked;
  }
  obj = s->base + size_t{take} * stride;
  s->freelist = obj;
  for (uint32_t i = take; i < n; ++i, obj += stride) {
    auto* slot = reinterpret_cast<uintptr_t*>(link.slot(obj));
    const uintptr_t next = i + 1 < n ? reinterpret_cast<uintptr_t>(obj + stride) : 0;
    *slot = next ^ key ^ reinterpret_cast<uintptr_t>(slot);
  }
linked:
  s->inuse = take;
  s->head->aux = static_cast<uint16_t>(take);
  c->inuse_ += take;
  // An empty slab is on the empty list (verify()).
  if (take == n)
    relink(&c->empty_, &c->full_, kListFull, s);
  else
    relink(&c->empty_, &c->partial_, kListPartial, s);
}

// Up to `want` objects (at least one unless no slab can be grown) into
// out[0, got), "in an array" marks on them: one node-lock hold, the depot
// first, then the slabs, and, the slabs having none free, one new slab.
uint32_t SlabAllocator::take_or_grow(KmemCache* c, void** out, uint32_t want, gfp_t flags,
                                     Finding* f, bool gate_held) {
  uint32_t got;
  {
    LockGuard g(c->node_lock_);
    got = c->depot_count_ != 0 ? take_depot_locked(c, out, want, f) : 0;
    if (got < want) got += take_objects_locked(c, out, want - got, f);
  }
  if (got == 0) {
    Slab* s = grow(c, flags, gate_held);
    if (s == nullptr) return 0;
    LockGuard g(c->node_lock_);
    add_slab_locked(c, s);
    got = take_objects_locked(c, out, want, f);
  }
  // Filled from the top down: close the gap below if the slabs ran short.
  if (got < want)
    for (uint32_t i = 0; i < got; ++i) out[i] = out[want - got + i];
  return got;
}

uint32_t SlabAllocator::refill(KmemCache* c, CpuStack<void*>& a, gfp_t flags, Finding* f) {
  const uint32_t got = take_or_grow(c, a.slots, c->cpu_batch_, flags, f, true);
  a.set_size(got);
  return got;
}

// ---- the depot ----------------------------------------------------------------
// A depot entry's link slot holds the cache's key itself: encoded like a
// link, that decodes to the slot's own address (kInDepot), which lies in
// the object (slab_detail::LinkAt: its offset + 8 <= stride) and so in its
// slab, yet is no link a freelist holds (a link names another object's
// start, never a slot of its own: at offset 0 the object itself). So the fast path's
// looks_free sends a second free of a depot object to the slow path,
// which names it (free_slow), and the moves test one word for it. Every
// move checks the mark it expects and writes the next one, so the second
// entry of one object (two frees that raced on two CPUs) is found at its
// first move after the other: dropped and named, never handed out from the
// depot.

namespace {
// Drops the null entries of e[0, n) (duplicates found by a move), keeping
// the order of the rest; returns how many are left.
uint32_t compact(void** e, uint32_t n) {
  uint32_t kept = 0;
  for (uint32_t i = 0; i < n; ++i)
    if (e[i] != nullptr) e[kept++] = e[i];
  return kept;
}
}  // namespace

// Up to `want` objects from the depot's top into out[want - 1], out[want -
// 2], ... (as take_objects_locked fills it), each checked ("in the depot")
// and marked "in an array"; returns how many. A duplicate is dropped
// (counted in use by its slab already) and named through *f. The pointers
// move in one copy; the loop touches each object's slot only.
uint32_t SlabAllocator::take_depot_locked(KmemCache* c, void** out, uint32_t want, Finding* f) {
  const uint32_t n = c->depot_count_;
  const uint32_t take = n < want ? n : want;
  const uintptr_t key = c->freelist_key_;
  const uintptr_t in_array = kInArray ^ key;
  void** dst = out + (want - take);
  __builtin_memcpy(dst, c->depot_ + (n - take), take * sizeof(void*));
  c->depot_count_ = n - take;
  void* duplicate = nullptr;
  // One copy of the loop per form of the slot (LinkAt::visit).
  c->link_at().visit([&](const auto link) {
#pragma GCC unroll 4
    for (uint32_t i = 0; i < take; ++i) {
      const uintptr_t slot = link.slot(dst[i]);
      if (__builtin_expect(*reinterpret_cast<uintptr_t*>(slot) != key, 0)) {
        duplicate = dst[i];
        dst[i] = nullptr;
        continue;
      }
      *reinterpret_cast<uintptr_t*>(slot) = in_array ^ slot;  // mark_in_array
    }
  });
  if (__builtin_expect(duplicate == nullptr, 1)) return take;
  if (f != nullptr && f->code == ErrorCode::Count)
    *f = {ErrorCode::SlabDelayedDoubleFree,
          "object was freed twice, or written after it was freed (its free mark broken; "
          "found when the depot gave it to a per-CPU array)", duplicate};
  // Close the gap at the top: the objects kept end at out[want - 1].
  const uint32_t got = compact(dst, take);
  __builtin_memmove(out + (want - got), dst, got * sizeof(void*));
  return got;
}

// Array entries e[0, n) into the depot while it has room, each checked ("in
// an array") and marked "in the depot"; returns how many entries it used
// (moved, or dropped as a duplicate into *duplicate). One copy, then a
// loop over the objects' slots.
uint32_t SlabAllocator::put_depot_locked(KmemCache* c, void* const* e, uint32_t n, void** duplicate) {
  const uint32_t top = c->depot_count_;
  const uint32_t room = c->depot_limit_ - top;
  const uint32_t take = n < room ? n : room;
  const uintptr_t key = c->freelist_key_;
  const uintptr_t in_array = kInArray ^ key;
  void** dst = c->depot_ + top;
  __builtin_memcpy(dst, e, take * sizeof(void*));
  bool dropped = false;
  // One copy of the loop per form of the slot (LinkAt::visit).
  c->link_at().visit([&](const auto link) {
#pragma GCC unroll 4
    for (uint32_t i = 0; i < take; ++i) {
      const uintptr_t slot = link.slot(dst[i]);
      if (__builtin_expect((*reinterpret_cast<uintptr_t*>(slot) ^ slot) != in_array, 0)) {
        *duplicate = dst[i];  // given on already: a second entry of one object
        dst[i] = nullptr;
        dropped = true;
        continue;
      }
      *reinterpret_cast<uintptr_t*>(slot) = key;  // kInDepot
    }
  });
  c->depot_count_ = top + (__builtin_expect(dropped, 0) ? compact(dst, take) : take);
  return take;
}

// Every depot object back to its slab (cache_shrink, pf_reclaim, destroy).
size_t SlabAllocator::drain_depot(KmemCache* c) {
  if (c->depot_ == nullptr) return 0;
  Slab* release = nullptr;
  void* duplicate;
  {
    LockGuard g(c->node_lock_);
    if (c->depot_count_ == 0) return 0;
    duplicate = return_to_slabs_locked<true>(c, c->depot_, c->depot_count_, &release);
    c->depot_count_ = 0;
  }
  const size_t frames = release_slabs(c, release);
  report_flush_duplicate(c, duplicate, nullptr);
  return frames;
}

// Gives e[0, n), the oldest (coldest) entries, to the depot while it has
// room (to_depot; a drain gives everything to the slabs), the rest back to
// their slabs, in one node-lock hold; the entries above move down in one
// memmove. (Descriptor reads need no lock; the slabs of entries in arrays
// cannot go away, as their objects count as in use.)
void* SlabAllocator::flush(KmemCache* c, CpuStack<void*>& a, uint32_t n, size_t* frames, bool to_depot) {
  const uint32_t size = a.size();
  void** e = a.slots;
  Slab* release = nullptr;
  void* duplicate = nullptr;
  {
    LockGuard g(c->node_lock_);
    const uint32_t i = to_depot && c->depot_ != nullptr ? put_depot_locked(c, e, n, &duplicate) : 0;
    if (i < n)
      if (void* d = return_to_slabs_locked<false>(c, e + i, n - i, &release)) duplicate = d;
  }
  if (size != n) __builtin_memmove(e, e + n, (size - n) * sizeof(void*));
  a.set_size(size - n);
  const size_t released = release_slabs(c, release);
  if (frames != nullptr) *frames += released;
  return duplicate;
}

// Entries e[0, n) back to their slabs. Each run of entries of one slab (a
// neighbour of the previous entry costs a range check against that slab's
// own bytes, not a descriptor lookup) is pushed onto that slab's freelist
// in a tight loop, and the slab's counters and list are settled once per
// run. Every entry's slot must carry its mark (kInArray, or kInDepot for
// the depot's) until it leaves: anything else is a second entry of one
// object (two frees that raced on two CPUs) given on already. Dropping it
// keeps the slab's counts true; it is returned, to be reported.
template <bool kFromDepot>
void* SlabAllocator::return_to_slabs_locked(KmemCache* c, void* const* e, uint32_t n, Slab** release) {
  // One copy of the loops per form of the slot (LinkAt::visit).
  return c->link_at().visit(
      [&](const auto link) { return return_to_slabs_locked<kFromDepot>(c, e, n, release, link); });
}

template <bool kFromDepot, typename Link>
void* SlabAllocator::return_to_slabs_locked(KmemCache* c, void* const* e, uint32_t n, Slab** release,
                                            Link link) {
  void* duplicate = nullptr;
  const uintptr_t key = c->freelist_key_;
  for (uint32_t i = 0; i < n;) {
    Slab* s = slab_of(e[i]);  // one descriptor read per run (entries sit in slabs)
    if (s == nullptr || s->cache != c) {
      duplicate = e[i++];  // its slab is gone: a duplicate of an object given back earlier
      continue;
    }
    const auto base = reinterpret_cast<uintptr_t>(s->base);
    const uint64_t span = object_bytes_locked(c, s);  // each slab its own (fallback slabs)
    auto* head = static_cast<std::byte*>(s->freelist);
    // At most inuse entries can be objects of s still in use: past that
    // (only duplicates) the run stops, and the next one finds s with
    // nothing in use and drops what is left.
    const uint32_t start = i;
    const uint32_t stop = n - i > s->inuse ? i + s->inuse : n;
    uint32_t dropped = 0;
    // By pointer: the index is worked out once the run ends.
    void* const* p = e + i;
    for (void* const* const last = e + stop; p != last; ++p) {
      auto* obj = static_cast<std::byte*>(*p);
      if (reinterpret_cast<uintptr_t>(obj) - base >= span) break;
      auto* slot = reinterpret_cast<uintptr_t*>(link.slot(obj));
      const uintptr_t k = key ^ reinterpret_cast<uintptr_t>(slot);
      const uintptr_t mark = kFromDepot ? reinterpret_cast<uintptr_t>(slot) : kInArray;  // decoded
      if (__builtin_expect((*slot ^ k) != mark, 0)) {
        duplicate = obj;
        ++dropped;
        continue;
      }
      *slot = reinterpret_cast<uintptr_t>(head) ^ k;
      head = obj;
    }
    i = static_cast<uint32_t>(p - e);
    if (i == start) {
      duplicate = e[i++];  // its slab has nothing in use: a duplicate
      continue;
    }
    const uint32_t freed = i - start - dropped;
    if (freed != 0) give_back_locked(c, s, head, freed, release);
  }
  return duplicate;
}

// `freed` objects of s were linked in front of its freelist (head is the
// new first one; freed <= s->inuse): its counters, then its list, as
// settle_locked does, inline: full -> partial, an emptied slab to the
// reserve or (the reserve full) out through *release. Inlined into the
// per-run loops that call it (a run is 8-16 objects at 2-4 KiB).
[[gnu::always_inline]] inline void SlabAllocator::give_back_locked(KmemCache* c, Slab* s, void* head,
                                                                  uint32_t freed, Slab** release) {
  const uint32_t inuse = s->inuse - freed;
  s->freelist = head;
  s->inuse = inuse;
  s->head->aux = static_cast<uint16_t>(inuse);
  c->inuse_ -= freed;
  // A slab with objects in use is on partial or full (verify()).
  SlabList* from = s->list == kListFull ? &c->full_ : &c->partial_;
  if (inuse != 0) {
    if (from == &c->full_) relink(from, &c->partial_, kListPartial, s);
  } else if (keep_empty_locked(c)) {
    relink(from, &c->empty_, kListEmpty, s);
  } else {
    relink(from, nullptr, kListNone, s);
    drop_slab_locked(c, s);
    s->next = *release;
    *release = s;
  }
}

void SlabAllocator::report_flush_duplicate(KmemCache* c, void* duplicate, const void* caller) {
  if (duplicate == nullptr) return;
  report_object_error(ErrorCode::SlabDelayedDoubleFree,
                      "object was freed twice, or written after it was freed (its free mark broken; "
                      "found when a per-CPU array or the depot gave it back)",
                      duplicate, c, caller);
}

size_t SlabAllocator::drain_cpu_arrays(KmemCache* c) {
  size_t frames = 0;
  if (c->cpu_ == nullptr) return 0;
  for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) {
    CpuArray& a = cpu_array(c, cpu);
    void* duplicate = nullptr;
    {
      auto held = hold(cpu);
      // Both stacks of the pair: `in` (the frees) first, then `out`.
      for (CpuStack<void*>* st : {&a.in, &a.out})
        while (st->size() != 0) {
          void* d = flush(c, *st, st->size(), &frames, false);
          if (d != nullptr) duplicate = d;
        }
    }
    report_flush_duplicate(c, duplicate, nullptr);
  }
  return frames + drain_depot(c);
}

// One block: a line per CPU with its CpuArray (so the fast paths find CPU
// i's at cpu_ + i * kCpuArrayLine), then each CPU's cpu_limit_ entries (its
// two stacks, stack_limit each: `out` first, `in` after, until turns swap
// them), rounded up to whole lines so no two CPUs write one line, then the depot's
// entries (depot_wanted of them; fewer when the arrays' own block, rounded
// up to a power of two, has room for at least half of them: the block
// then does not double for the depot; more, up to depot_wanted, never).
bool SlabAllocator::allocate_cpu_arrays(KmemCache* c, uint32_t depot_wanted) {
  const uint64_t lines = uint64_t{cpu_count_ + 1} * slab_detail::kCpuArrayLine;
  const uint64_t entries = align_up(uint64_t{c->cpu_limit_} * sizeof(void*), slab_detail::kCpuArrayLine);
  const uint64_t arrays = lines + uint64_t{cpu_count_ + 1} * entries;
  auto order_for = [](uint64_t bytes) { return order_for_frames((bytes + kPageSize - 1) >> kPageShift); };
  Order order = order_for(arrays + uint64_t{depot_wanted} * sizeof(void*));
  const Order tight = order_for(arrays);
  if ((tight.bytes() - arrays) / sizeof(void*) >= depot_wanted / 2) order = tight;
  uint64_t depot = (order.bytes() - arrays) / sizeof(void*);
  if (depot > depot_wanted) depot = depot_wanted;
  const PhysAddr block = pages_->alloc_pages(order, __GFP_NOWARN);
  if (block.is_null()) return false;
  descriptor_of(to_pfn(block))->owner = kOwnerSlabMeta;
  std::byte* mem = pages_->to_virt(block);
  c->cpu_ = mem;
  for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu)
    new (mem + cpu * slab_detail::kCpuArrayLine)
        slab_detail::CpuArrayLine{CpuArray(cpu_entries_of(c, cpu), stack_limit(c))};
  c->cpu_block_order_ = order.value;
  c->depot_limit_ = static_cast<uint32_t>(depot / 8 * 8);
  c->depot_ = c->depot_limit_ != 0 ? reinterpret_cast<void**>(mem + arrays) : nullptr;
  c->depot_count_ = 0;
  set_fast_view(c);
  return true;
}

void** SlabAllocator::cpu_entries_of(const KmemCache* c, unsigned cpu) const {
  const uint64_t lines = uint64_t{cpu_count_ + 1} * slab_detail::kCpuArrayLine;
  const uint64_t entries = align_up(uint64_t{c->cpu_limit_} * sizeof(void*), slab_detail::kCpuArrayLine);
  return reinterpret_cast<void**>(c->cpu_ + lines + cpu * entries);
}

void SlabAllocator::release_cpu_arrays(KmemCache* c) {
  PF_ASSERT(c->depot_count_ == 0);  // drained with the arrays (drain_cpu_arrays)
  const PhysAddr block = pages_->to_phys(c->cpu_);
  descriptor_of(to_pfn(block))->owner = 0;
  c->cpu_ = nullptr;
  c->depot_ = nullptr;
  c->depot_limit_ = 0;
  set_fast_view(c);
  pages_->free_pages(block, Order{c->cpu_block_order_});
}

// ---- allocation and free ------------------------------------------------------

bool SlabAllocator::called_from_ctor(const char* op, const void* caller) const {
  const unsigned cpu = platform::cpu_id();
  if (__builtin_expect(cpu >= cpu_count_ || !gates_[cpu].owner_busy(), 1)) return false;
  char detail[128];
  TextBuffer t(detail, sizeof detail);
  t.str(op).str(": called from a kmem_cache constructor (constructors must not call the slab layer)");
  report({.code = ErrorCode::InvalidArgument, .detail = t.c_str(), .caller = caller});
  return true;
}
// The report of a handle cache_handle_ok refused (its name is not read: the
// record may be gone).
static void report_bad_cache_handle(const char* detail, const void* handle, const void* caller) {
  report({.code = ErrorCode::InvalidArgument,
          .detail = detail,
          .address = reinterpret_cast<uintptr_t>(handle),
          .address_is_virtual = true,
          .caller = caller});
}

void* SlabAllocator::alloc_turn(KmemCache* c, gfp_t flags, const void* caller, size_t requested) {
  void* obj;
  if (__builtin_expect(c != nullptr, 1)) {
    const unsigned cpu = platform::cpu_id();  // < kCpuIdBound; gates of no owner are closed
    IrqOff irq;
    CpuGate& g = gates_[cpu];
    if (__builtin_expect(g.enter(), 1)) {
      // A cache the fast paths do not serve shows two empty stacks
      // (kNoCpuArrays): nothing is written there.
      CpuArray& a = c->fast_cpu_[cpu].array;
      if (__builtin_expect(a.out.size() == 0 && a.in.size() != 0, 1)) {
        a.turn();
        obj = a.out.pop();
        g.leave();
        goto popped;  // leaves the interrupt mask's scope
      }
      g.leave();
    }
  }
  return alloc_slow(c, flags, caller, requested);
popped:
  *link_slot(c, obj) = 0;  // no longer in an array (see looks_free)
  if (flags & __GFP_ZERO) __builtin_memset(obj, 0, c->object_size_);
  return obj;
}

// Everything the inline fast path (slab.hpp) does not serve: fault
// injection, a bad or retired cache, debug caches (no arrays), init_on_*,
// an empty array (refill), callers without a CPU (the shared array).
void* SlabAllocator::alloc_slow(KmemCache* c, gfp_t flags, const void* caller, size_t requested) {
  if (caller == nullptr) caller = PF_CALLER;
  // (kmalloc's callers' flags were judged before they got here.)
  if (__builtin_expect(!gfp_valid(flags), 0)) {
    report_bad_gfp(flags, "kmem_cache_alloc", caller);
    return nullptr;
  }
  if (__builtin_expect(fail_at_.load(std::memory_order_relaxed) != 0, 0) && fail_injected())
    return nullptr;
  if (called_from_ctor(requested != 0 ? "kmalloc" : "kmem_cache_alloc", caller)) return nullptr;
  if (c == nullptr || c->cpu_ == nullptr || c->retired_)
    return cache_alloc_slow(c, flags, caller, requested);
  const unsigned cpu = this_cpu();
  CpuArray& a = cpu_array(c, cpu);
  void* obj = nullptr;
  Finding finding;
  {
    auto held = hold(cpu);
    // `out` first; empty, the pair turns when `in` holds objects (as the
    // fast path does: this is the shared array's, or a caller's whose gate
    // was busy); both empty, a refill fills `out`.
    if (a.out.size() == 0 && a.in.size() != 0) a.turn();
    if (a.out.size() != 0 || refill(c, a.out, flags, &finding) != 0) obj = a.out.pop();
  }
  report_finding(finding, c, caller);
  if (obj == nullptr) return alloc_retry(c, flags, caller, requested);  // no slab could grow
  *link_slot(c, obj) = 0;
  if ((flags & __GFP_ZERO) || c->init_on_alloc_)
    __builtin_memset(obj, 0, c->object_size_);
  return obj;
}

size_t SlabAllocator::cache_alloc_bulk(KmemCache* c, gfp_t flags, size_t count, void** out,
                                       const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (!gfp_valid(flags)) {
    report_bad_gfp(flags, "kmem_cache_alloc_bulk", caller);
    return 0;
  }
  if (count == 0) return 0;
  if (called_from_ctor("kmem_cache_alloc_bulk", caller)) return 0;
  if (c == nullptr || out == nullptr || !bulk_handle_ok(c)) {
    report_bad_cache_handle(out == nullptr && c != nullptr && cache_handle_ok(c)
                                ? "kmem_cache_alloc_bulk: no array for the objects"
                                : "kmem_cache_alloc_bulk: not a live cache (destroyed, or never one)",
                            c, caller);
    return 0;
  }
  size_t n = 0;
  const unsigned cpu = platform::cpu_id();
  if (cpu < fast_cpus_.load(std::memory_order_relaxed) && c != nullptr && fast(c)) {
    // What this CPU's array holds, in one gate hold: pops only.
    {
      IrqOff irq;
      CpuGate& g = gates_[cpu];
      if (g.enter()) {
        CpuArray& a = cpu_array(c, cpu);
        while (n < count && a.out.size() != 0) out[n++] = a.out.pop();
        if (n < count && a.in.size() != 0) {  // `in` too, turned
          a.turn();
          while (n < count && a.out.size() != 0) out[n++] = a.out.pop();
        }
        g.leave();
      }
    }
    // The rest straight from the slabs, as refill takes them (whole
    // freelists, a node-lock hold per step), growing as needed. What a
    // failed grow leaves short, the loop below asks for one at a time
    // (and, failing, gives everything back).
    Finding finding;
    while (n < count) {
      const uint32_t want = count - n < kBulkStep ? static_cast<uint32_t>(count - n) : kBulkStep;
      const uint32_t got = take_or_grow(c, out + n, want, flags, &finding);
      if (got == 0) break;
      n += got;
    }
    report_finding(finding, c, caller);
    // Handed out: the slots cleared (see looks_free), one copy of the loop
    // per form of the slot (LinkAt::visit).
    c->link_at().visit([&](const auto link) {
      for (size_t i = 0; i < n; ++i) *reinterpret_cast<uintptr_t*>(link.slot(out[i])) = 0;
    });
  }
  // __GFP_ZERO only once the whole batch is had: a failure gives back what
  // was taken, and an object zeroed and given back would be handed out later
  // without its constructed state (a cache with a constructor; found by
  // ops_fuzz). init_on_alloc caches have no constructor: their zeroing in
  // alloc_object may stay.
  for (; n < count; ++n) {
    out[n] = alloc_object(c, flags & ~__GFP_ZERO, caller, 0);
    if (out[n] == nullptr) {
      for (size_t i = 0; i < n; ++i) cache_free(c, out[i], caller);
      return 0;
    }
  }
  if (flags & __GFP_ZERO)
    for (size_t i = 0; i < n; ++i) __builtin_memset(out[i], 0, c->object_size_);
  return n;
}

// Linux's build_detached_freelist idea: a run of objects of one slab goes
// into the depot (while it has room) or onto its slab's freelist in one
// node-lock hold, the slab found once per run (a neighbour costs a range
// check). Each object still passes the free fast
// path's checks (its cache, an object start, not looking free: an object in
// an array, on a freelist, or twice in this call); one that fails them, and
// anything a cache without arrays gets, goes through cache_free, which
// names the misuse. The objects skip this CPU's array.
void SlabAllocator::cache_free_bulk(KmemCache* c, size_t count, void* const* objects,
                                    const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (count == 0) return;
  if (called_from_ctor("kmem_cache_free_bulk", caller)) return;
  // Refused whole, before any object moves: one report, nothing freed.
  if (c == nullptr || objects == nullptr || !bulk_handle_ok(c)) {
    report_bad_cache_handle(objects == nullptr && c != nullptr && cache_handle_ok(c)
                                ? "kmem_cache_free_bulk: no array of objects"
                                : "kmem_cache_free_bulk: not a live cache (destroyed, or never one)",
                            c, caller);
    return;
  }
  const bool direct = fast(c);
  for (size_t i = 0; i < count;) {
    void* obj = objects[i];
    Slab* s = direct && obj != nullptr ? slab_of(obj) : nullptr;
    if (s == nullptr || s->cache != c || !at_object_start(c, s, obj) || looks_free(c, s, obj)) {
      cache_free(c, obj, caller);
      ++i;
      continue;
    }
    const uintptr_t key = c->freelist_key_;
    const auto base = reinterpret_cast<uintptr_t>(s->base);
    const uint64_t span = object_bytes(c, s);
    Slab* release = nullptr;
    uint32_t freed = 0;
    {
      LockGuard g(c->node_lock_);
      // Into the depot while it has room (marked "in the depot", for the
      // next allocations on any CPU) when the cache's slabs hold few
      // objects, else onto the slab's freelist: with many objects a slab's
      // own work per run (a lookup, counters, a list move, and a take by
      // address later) is spread thin and costs less per object than the
      // depot's check and mark at each move.
      const uint32_t room =
          c->objs_per_slab_ <= kBulkDepotObjects ? c->depot_limit_ - c->depot_count_ : 0;
      void** depot = c->depot_ + c->depot_count_;
      auto* head = static_cast<std::byte*>(s->freelist);
      const uint32_t inuse = s->inuse;
      // The run: objects of s, at object starts, not looking free (a
      // duplicate in this call, say), at most as many as s counts in use.
      // One copy per form of the slot (LinkAt::visit) and per destination.
      auto run = [&](uint32_t most, auto link, auto put) {
        for (; i < count && freed < most; ++i) {
          auto* o = static_cast<std::byte*>(objects[i]);
          const uintptr_t offset = reinterpret_cast<uintptr_t>(o) - base;
          if (offset >= span || !starts_object(c, s, static_cast<uint32_t>(offset))) break;
          auto* slot = reinterpret_cast<uintptr_t*>(link.slot(o));
          const uintptr_t k = key ^ reinterpret_cast<uintptr_t>(slot);
          const uintptr_t v = *slot ^ k;
          if (v <= kInArray || v - base < span) break;  // looks_free, span hoisted
          put(o, slot, k);
          ++freed;
        }
      };
      if (room != 0) {
        c->link_at().visit([&](const auto link) {
          run(room < inuse ? room : inuse, link, [&](std::byte* o, uintptr_t* slot, uintptr_t) {
            *slot = key;  // kInDepot
            depot[freed] = o;
          });
        });
        c->depot_count_ += freed;
      } else {
        c->link_at().visit([&](const auto link) {
          run(inuse, link, [&](std::byte* o, uintptr_t* slot, uintptr_t k) {
            *slot = reinterpret_cast<uintptr_t>(head) ^ k;
            head = o;
          });
        });
        if (freed != 0) give_back_locked(c, s, head, freed, &release);
      }
    }
    release_slabs(c, release);
    if (freed == 0) {  // its slab counts nothing in use: the one-object path decides
      cache_free(c, objects[i], caller);
      ++i;
    }
  }
}

void* SlabAllocator::cache_alloc_slow(KmemCache* c, gfp_t flags, const void* caller,
                                      size_t requested) {
  if (c != nullptr && !cache_handle_ok(c)) {
    report_bad_cache_handle("kmem_cache_alloc: not a live cache (destroyed, or never one)", c, caller);
    return nullptr;
  }
  if (c == nullptr || c->retired_) {
    report({.code = ErrorCode::InvalidArgument,
            .detail = c != nullptr ? "kmem_cache_alloc: cache was destroyed"
                      : pages_ != nullptr ? "kmem_cache_alloc: no cache"
                      : requested != 0 ? "kmalloc: the slab allocator is not initialised"
                                       : "kmem_cache_alloc: the slab allocator is not initialised",
            .cache = c != nullptr ? c->name_ : nullptr,
            .caller = caller});
    return nullptr;
  }
  void* obj = alloc_direct(c, flags, caller, requested);
  if (obj == nullptr) return alloc_retry(c, flags, caller, requested);  // no slab could grow
  if (!c->debug_ && ((flags & __GFP_ZERO) || c->init_on_alloc_))
    __builtin_memset(obj, 0, c->object_size_);
  return obj;
}

// Debug caches also zero here (under the lock, before the redzone is laid).
void* SlabAllocator::alloc_direct(KmemCache* c, gfp_t flags, const void* caller,
                                  size_t requested) {
  Finding finding;
  void* obj = nullptr;
  for (int attempt = 0; attempt < 2 && obj == nullptr; ++attempt) {
    Slab* fresh = nullptr;
    if (attempt == 1 && (fresh = grow(c, flags)) == nullptr) break;
    LockGuard g(c->node_lock_);
    if (fresh != nullptr) add_slab_locked(c, fresh);
    obj = take_object_locked(c, &finding);
    if (obj != nullptr && c->debug_)
      debug_on_alloc_locked(c, obj, caller, requested != 0 ? requested : c->object_size_, flags,
                            &finding);
  }
  report_finding(finding, c, caller);
  return obj;
}

size_t SlabAllocator::free_direct(KmemCache* c, Slab* s, void* obj, const void* caller) {
  Slab* release = nullptr;
  bool duplicate;
  Finding finding;
  {
    LockGuard g(c->node_lock_);
    if (c->debug_) {
      duplicate = !debug_on_free_locked(c, s, obj, caller, &finding);
    } else {
      uintptr_t* slot = link_slot(c, obj);
      const uintptr_t v = decode_slot(c, slot);
      duplicate = s->inuse == 0 ||
                  (looks_free(c, s, obj) && (v == kInArray || v == reinterpret_cast<uintptr_t>(slot) ||
                                             on_freelist_locked(c, s, obj)));
      if (duplicate) finding = {ErrorCode::SlabDoubleFree, "object is already free", obj};
    }
    if (!duplicate) put_object_locked(c, s, obj, &release);
  }
  const size_t frames = release_slabs(c, release);
  report_finding(finding, c, caller);
  return frames;
}

size_t SlabAllocator::free_internal(KmemCache* bootstrap, void* obj) {
  return free_direct(bootstrap, locate(obj).slab, obj, nullptr);
}

// kmem_cache_free when the fast path's one test failed: name the misuse.
void SlabAllocator::cache_free_slow(KmemCache* c, void* obj, const void* caller) {
  if (obj == nullptr) return;
  if (caller == nullptr) caller = PF_CALLER;
  // Before init: first, whatever c is (no cache exists; c is not read).
  if (report_uninitialised("kmem_cache_free", obj, caller)) return;
  if (c == nullptr) {
    report_object_error(ErrorCode::InvalidArgument, "kmem_cache_free: no cache", obj, nullptr,
                        caller);
    return;
  }
  if (!cache_handle_ok(c)) {
    report_object_error(ErrorCode::InvalidArgument,
                        "kmem_cache_free: not a live cache (destroyed, or never one)", obj, nullptr,
                        caller);
    return;
  }
  const Located where = locate(obj);
  if (where.target != Target::SlabObject) {
    report_bad_pointer(where, obj, "kmem_cache_free", caller);
    return;
  }
  if (where.slab->cache != c) {
    char detail[96];
    TextBuffer t(detail, sizeof detail);
    t.str("kmem_cache_free: object belongs to cache ").str(where.slab->cache->name_);
    report_object_error(ErrorCode::SlabWrongCache, detail, obj, c, caller);
    return;
  }
  free_object(c, where.slab, obj, caller);
}

// free_object's misses. The fast path found obj in a slab of c; it is
// looked up again here rather than kept live there. Should the slab have
// changed meanwhile (only a racing misuse can do that), the free is judged
// afresh as a kmem_cache_free into c.
void SlabAllocator::free_slow_at(KmemCache* c, void* obj, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  const Located where = locate(obj);
  if (__builtin_expect(where.target == Target::SlabObject && where.slab->cache == c, 1)) {
    free_slow(c, where.slab, obj, caller);
    return;
  }
  cache_free_slow(c, obj, caller);
}

// The object's slab is s, a slab of c; everything the fast path did not
// serve: not an object start, debug or retired caches (straight to the
// slab), init_on_free, a full array (flush), the immediate double free,
// callers without a CPU (the shared array).
void SlabAllocator::free_slow(KmemCache* c, Slab* s, void* obj, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (called_from_ctor("kfree", caller)) return;
  if (__builtin_expect(c == &cache_cache_ || c == &slab_cache_, 0)) {
    // The allocator's own records: only kmem_cache_destroy frees a cache.
    report_object_error(c == &cache_cache_ ? ErrorCode::SlabCacheHandle
                                           : ErrorCode::SlabInternalObject,
                        c == &cache_cache_ ? "pointer is a kmem_cache handle; use kmem_cache_destroy"
                                           : "pointer is the allocator's own slab header",
                        obj, nullptr, caller);
    return;
  }
  if (__builtin_expect(!at_object_start(c, s, obj), 0)) {
    report_object_error(ErrorCode::SlabNotObjectStart,
                        "pointer is inside a slab but not at the start of an object", obj, c,
                        caller);
    return;
  }
  if (!c->debug_ && looks_free(c, s, obj)) {
    // Make sure (the caller's data could, once in 2^64, look like a link):
    // in an array, in the depot (the slot's own address), or on the freelist.
    uintptr_t* slot = link_slot(c, obj);
    const uintptr_t v = decode_slot(c, slot);
    bool already = v == kInArray || v == reinterpret_cast<uintptr_t>(slot);
    if (!already) {
      LockGuard g(c->node_lock_);
      already = on_freelist_locked(c, s, obj);
    }
    if (already) {
      report_object_error(ErrorCode::SlabDoubleFree,
                          "object is already free (in a per-CPU array, the depot or on its slab's freelist)",
                          obj, c, caller);
      return;
    }
  }
  if (c->cpu_ == nullptr || c->retired_) {
    free_direct(c, s, obj, caller);
    return;
  }
  if (__builtin_expect(c->init_on_free_, 0)) __builtin_memset(obj, 0, c->object_size_);
  const unsigned cpu = this_cpu();
  CpuArray& a = cpu_array(c, cpu);
  bool duplicate = false;
  void* flushed_duplicate = nullptr;
  {
    auto held = hold(cpu);
    // Double frees were caught above (looks_free); two racing frees of
    // one object can still meet here, on top of either stack of this
    // CPU's pair (`in`, or `out` once a turn moved it there).
    if ((a.in.size() != 0 && a.in.top() == obj) || (a.out.size() != 0 && a.out.top() == obj)) {
      duplicate = true;
    } else {
      // A full `in`: with `out` empty the pair turns (nothing leaves the
      // CPU: a burst of up to cpu_limit_ frees stays); else its oldest
      // cpu_batch_ go to the depot or their slabs.
      if (a.in.size() >= stack_limit(c)) {
        if (a.out.size() == 0)
          a.turn();
        else
          flushed_duplicate = flush(c, a.in, c->cpu_batch_, nullptr, true);
      }
      mark_in_array(c, obj);
      a.in.push(obj);
    }
  }
  if (flushed_duplicate != nullptr) report_flush_duplicate(c, flushed_duplicate, caller);
  if (duplicate)
    report_object_error(ErrorCode::SlabDoubleFree, "object is already free", obj, c, caller);
}

void SlabAllocator::report_object_error(ErrorCode code, const char* detail, const void* p,
                                        const KmemCache* c, const void* caller) const {
  report({.code = code,
          .detail = detail,
          .address = reinterpret_cast<uintptr_t>(p),
          .address_is_virtual = true,
          .pfn = pages_ != nullptr ? to_pfn(pages_->to_phys(p)).value : ~uint64_t{0},
          .cache = c != nullptr ? c->name_ : nullptr,
          .caller = caller});
}

void SlabAllocator::report_bad_pointer(const Located& where, const void* p, const char* op,
                                       const void* caller) const {
  char detail[128];
  TextBuffer t(detail, sizeof detail);
  t.str(op).str(": ");
  switch (where.target) {
    case Target::NotManaged:
      t.str("pointer is not in memory this allocator manages");
      break;
    case Target::LargeBlock:
      t.str("pointer is in a large kmalloc block, not a slab");
      break;
    case Target::NotSlab:
      if (where.head != nullptr)
        t.str("pointer is in a block in state ").str(frame_state_name(frame_state(*where.head)))
            .str(", not a slab");
      else
        t.str("pointer is not in a slab (no block head found)");
      break;
    case Target::SlabObject:
      t.str("pointer is in a slab");
      break;
  }
  report_object_error(ErrorCode::SlabNotSlabPage, detail, p, nullptr, caller);
}

// ---- caches ---------------------------------------------------------------------

bool SlabAllocator::setup_cache(KmemCache* c, const char* name, size_t size, size_t align,
                                unsigned flags, ObjectCtor ctor, bool bootstrap) {
  copy_name(c->name_, name);
  c->allocator_ = this;
  c->ctor_ = ctor;
  c->flags_ = flags;
  c->object_size_ = static_cast<uint32_t>(size);
  uint32_t a = align < 8 ? 8 : static_cast<uint32_t>(align);
  if (flags & SLAB_HWCACHE_ALIGN) {
    // A cache line, or a fraction of one for small objects (as Linux does).
    uint32_t line = 64;
    while (line > 8 && size <= line / 2) line /= 2;
    if (line > a) a = line;
  }
  c->align_ = a;
  c->debug_ = !bootstrap && ((flags & SLAB_DEBUG) || debug_);
  c->freelist_key_ = 0;
  c->array_key_ = kInArray;
  c->poison_ = c->debug_ && ctor == nullptr;
  c->init_on_alloc_ = !bootstrap && ctor == nullptr && init_on_alloc_;
  c->init_on_free_ = !bootstrap && ctor == nullptr && init_on_free_ && !c->debug_;
  c->redzone_end_ = c->track_offset_ = 0;
  uint64_t end;
  if (c->debug_) {
    c->redzone_end_ = static_cast<uint32_t>(align_up(size, 8) + 16);
    c->free_offset_ = c->redzone_end_;
    c->track_offset_ = c->free_offset_ + sizeof(void*);
    end = c->track_offset_ + sizeof(slab_detail::Track);
  } else if (ctor != nullptr || c->init_on_free_) {
    // Past the constructed state, or past the bytes init_on_free wipes (a
    // free object's slot holds its encoded link or array mark).
    c->free_offset_ = static_cast<uint32_t>(align_up(size, 8));
    end = c->free_offset_ + sizeof(void*);
  } else {
    c->free_offset_ = 0;
    end = size < sizeof(void*) ? sizeof(void*) : size;
  }
  c->stride_ = static_cast<uint32_t>(align_up(end, a));
  // The link slot spreads over the object's lines when it lives in the
  // object (slab_detail::LinkAt).
  c->spread_mask_ = c->free_offset_ == 0 ? slab_detail::spread_mask_for(c->stride_) : 0;
  const Layout l = choose_layout(c->stride_, bootstrap);
  if (l.objects == 0) return false;
  c->order_ = static_cast<uint8_t>(l.order);
  c->objs_per_slab_ = l.objects;
  const Layout m = min_layout(c->stride_, bootstrap);
  c->min_order_ = static_cast<uint8_t>(m.order);
  c->min_objs_ = m.objects;
  c->off_slab_ = l.off_slab;
  c->colour_step_ = a > 64 ? a : 64;
  c->colour_count_ = (flags & SLAB_NO_COLOUR) ? 1 : l.leftover / c->colour_step_ + 1;
  c->next_colour_.store(0, std::memory_order_relaxed);
  c->stride_magic_ = slab_detail::stride_magic_for(c->stride_);
  c->link_span_ = kPageSize << c->order_;
  c->slab_bytes_ = uint64_t{c->objs_per_slab_} * c->stride_;
  c->reserve_empty_ = l.order == 0 ? 2 : 1;
  c->reserve_extra_ = c->reserve_max_ = 0;  // no adaptive reserve (bootstrap and debug caches)
  c->gave_back_ = false;
  c->partial_ = c->full_ = c->empty_ = SlabList{};
  c->slab_count_ = c->inuse_ = c->total_objects_ = c->fallback_slabs_ = 0;
  c->retired_ = false;
  c->kmalloc_ = false;
  c->next_ = c->prev_ = nullptr;
  {
    LockGuard g(caches_lock_);
    c->id_ = next_id_;
    next_id_ = next_id_ == kMaxCacheId ? 1 : next_id_ + 1;
  }
  {
    // A key per cache, every cache (SLAB_FREELIST_HARDENED by default), so a
    // stray write cannot forge a link that decodes to a chosen address
    // (splitmix64 of the seed, the id and the address).
    uint64_t z = freelist_seed_ ^ (uint64_t{c->id_} << 32) ^ reinterpret_cast<uintptr_t>(c);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    c->freelist_key_ = (z ^ (z >> 31)) | 1;
    c->array_key_ = c->freelist_key_ ^ kInArray;
  }
  c->random_ = !bootstrap && ((flags & SLAB_FREELIST_RANDOM) || freelist_random_);
  c->random_state_.store(c->freelist_key_ * 0x9e3779b97f4a7c15ull, std::memory_order_relaxed);
  c->cpu_ = nullptr;
  c->depot_ = nullptr;
  c->depot_limit_ = c->depot_count_ = 0;
  set_fast_view(c);
  if (bootstrap || c->debug_) return true;  // debug caches: every operation on the slabs
  // The reserve is sized by the SLAB tunables, not by the byte-sized
  // arrays: those already keep a burst of small objects on their own.
  c->reserve_empty_ = empty_reserve_for(c->objs_per_slab_, cpu_limit_floor(c->stride_), cpu_count_,
                                        c->slab_bytes_,
                                        c->reserve_empty_,
                                        pages_->counters().managed_frames * kPageSize);
  // Arrays sized by bytes, and a depot, when their block can be had; else
  // (memory short or fragmented) SLAB's tunables and no depot, whose block
  // is smaller, before failing.
  const uint64_t managed = pages_->counters().managed_frames * kPageSize;
  c->reserve_max_ = static_cast<uint16_t>(empty_reserve_cap(c->slab_bytes_, managed));
  const uint32_t floor = cpu_limit_floor(c->stride_);
  const uint32_t depot =
      c->stride_ <= kDepotMaxStride ? depot_limit_for(c->reserve_empty_ * c->objs_per_slab_, managed) : 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    const uint32_t limit = attempt == 0 ? cpu_limit_for(c->stride_, cpu_count_, managed) : floor;
    c->cpu_limit_ = limit;
    c->cpu_batch_ = cpu_batch_for(limit, c->objs_per_slab_);
    if (allocate_cpu_arrays(c, attempt == 0 ? depot : 0)) return true;
  }
  return false;
}

KmemCache* SlabAllocator::create_cache(const char* name, size_t size, size_t align, unsigned flags,
                                       ObjectCtor ctor, bool kmalloc) {
  void* mem = alloc_direct(&cache_cache_, __GFP_NOWARN, nullptr, 0);
  if (mem == nullptr) return nullptr;
  auto* c = new (mem) KmemCache();
  if (!setup_cache(c, name, size, align, flags, ctor, false)) {
    free_internal(&cache_cache_, c);
    return nullptr;
  }
  c->kmalloc_ = kmalloc;
  link_cache(c);
  return c;
}

void SlabAllocator::link_cache(KmemCache* c) {
  LockGuard g(caches_lock_);
  c->next_ = nullptr;
  c->prev_ = caches_tail_;
  if (caches_tail_ != nullptr) caches_tail_->next_ = c; else caches_ = c;
  caches_tail_ = c;
}

void SlabAllocator::unlink_cache(KmemCache* c) {
  // A walker (shrink_all) may be shrinking this cache with the list lock
  // dropped: wait (lock dropped, interrupts open) until it has stepped past;
  // its shrink is bounded and takes no lock this caller holds.
  for (;; platform::cpu_relax()) {
    LockGuard g(caches_lock_);
    if (c->pins_ != 0) continue;
    if (c->prev_ != nullptr) c->prev_->next_ = c->next_; else caches_ = c->next_;
    if (c->next_ != nullptr) c->next_->prev_ = c->prev_; else caches_tail_ = c->prev_;
    c->next_ = c->prev_ = nullptr;
    // A stale handle is no live cache (cache_handle_ok). Cleared with the
    // list lock held: a second kmem_cache_destroy racing this one reads it
    // under that lock (it was a data race, written after the lock was
    // dropped; TSan, ShrinkConcurrency.DestroyRacingDestroyOrShrink...).
    c->allocator_ = nullptr;
    return;
  }
}

void SlabAllocator::destroy_empty_cache(KmemCache* c) {
  unlink_cache(c);  // clears allocator_
  if (c->cpu_ != nullptr) release_cpu_arrays(c);
  free_internal(&cache_cache_, c);
}

bool SlabAllocator::cache_handle_ok(const KmemCache* c) const {
  if (c == &cache_cache_ || c == &slab_cache_) return true;
  if (c == nullptr || pages_ == nullptr) return false;
  const Located where = locate(c);
  return where.target == Target::SlabObject && where.slab->cache == &cache_cache_ &&
         at_object_start(&cache_cache_, where.slab, c) && c->allocator_ == this;
}

KmemCache* SlabAllocator::cache_create(const char* name, size_t size, size_t align,
                                       unsigned flags, ObjectCtor ctor, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  // From a constructor (this CPU's gate held): the list of caches comes
  // before the gates in the lock order.
  if (called_from_ctor("kmem_cache_create", caller)) return nullptr;
  const char* problem = nullptr;
  if (pages_ == nullptr) problem = "kmem_cache_create: the slab allocator is not initialised";
  else if (name == nullptr || name[0] == '\0') problem = "kmem_cache_create: no name";
  else if (size == 0 || size > kMaxCacheObjectSize)
    problem = "kmem_cache_create: size is 0 or above kMaxCacheObjectSize";
  else if (align != 0 && (!is_power_of_two(align) || align > kPageSize))
    problem = "kmem_cache_create: align is not a power of two up to 4096";
  else if (flags & ~(SLAB_HWCACHE_ALIGN | SLAB_NO_COLOUR | SLAB_DEBUG | SLAB_FREELIST_RANDOM))
    problem = "kmem_cache_create: unknown flags";
  if (problem != nullptr) {
    report({.code = ErrorCode::InvalidArgument, .detail = problem, .cache = name, .caller = caller});
    return nullptr;
  }
  KmemCache* c = create_cache(name, size, align, flags, ctor, false);
  if (c == nullptr) c = create_retry(name, size, align, flags, ctor);
  return c;
}

void SlabAllocator::set_fail_after(uint64_t n) {
  fail_calls_.store(0, std::memory_order_relaxed);
  fail_at_.store(n, std::memory_order_relaxed);
  set_fast_paths(n == 0 && pages_ != nullptr && kmalloc_caches_[0] != nullptr);
}

void SlabAllocator::set_fast_paths(bool on) {
  const unsigned open = on ? cpu_count_ : 0;
  fast_cpus_.store(open, std::memory_order_relaxed);
  for (unsigned i = 0; i < kCpuIdBound; ++i) {
    LockGuard g(gates_[i].lock());
    gates_[i].set_closed_locked(i >= open);
  }
}

size_t SlabAllocator::cache_shrink(KmemCache* c, const void* caller) {
  if (c == nullptr || pages_ == nullptr) return 0;
  if (caller == nullptr) caller = PF_CALLER;
  if (called_from_ctor("kmem_cache_shrink", caller)) return 0;
  // The handle is judged and the cache pinned in one caches_lock_ hold, as
  // shrink_all pins what it visits: a destroy claimed before this is named
  // (the caller raced its own destroy), and one claimed after waits for the
  // pin before it frees the arrays this drains (it crashed: a shrink that
  // had passed the check alone drained freed arrays).
  const char* problem = nullptr;
  {
    LockGuard g(caches_lock_);
    if (!cache_handle_ok(c)) problem = "kmem_cache_shrink: not a live cache (destroyed, or never one)";
    else if (c->destroying_) problem = "kmem_cache_shrink: the cache is being destroyed";
    else ++c->pins_;
  }
  if (problem != nullptr) {
    report_bad_cache_handle(problem, c, caller);
    return 0;
  }
  const size_t frames = shrink_pinned(c);
  LockGuard g(caches_lock_);
  --c->pins_;
  return frames;
}

size_t SlabAllocator::shrink_pinned(KmemCache* c) {
  const size_t frames = drain_cpu_arrays(c);
  return frames + release_empty_slabs(c);
}

// Issue 11, case 10: the list lock is held (interrupts masked) only to step
// from one cache to the next; each shrink runs with it dropped, the cache
// pinned (pins_) so a concurrent cache_destroy waits for the step past it
// before unlinking and freeing the record. Caches created meanwhile are
// linked at the tail and may or may not be visited; a destroyed one is
// either unlinked before the walk reaches it or waited for.
size_t SlabAllocator::shrink_all() {
  if (pages_ == nullptr) return 0;
  if (called_from_ctor("pf_reclaim", PF_CALLER)) return 0;
  size_t frames = 0;
  KmemCache* c;
  {
    LockGuard g(caches_lock_);
    c = caches_;
    if (c != nullptr) ++c->pins_;
  }
  while (c != nullptr) {
    frames += shrink_pinned(c);
    KmemCache* next;
    {
      LockGuard g(caches_lock_);
      next = c->next_;
      if (next != nullptr) ++next->pins_;
      --c->pins_;
    }
    c = next;
  }
  frames += shrink_pinned(&slab_cache_);  // never destroyed: no pin needed
  frames += shrink_pinned(&cache_cache_);
  return frames;
}

size_t SlabAllocator::cache_destroy(KmemCache* c, const void* caller) {
  if (c == nullptr) return 0;
  if (caller == nullptr) caller = PF_CALLER;
  if (called_from_ctor("kmem_cache_destroy", caller)) return 0;
  // The handle is judged and the destroy claimed in one caches_lock_ hold:
  // two destroys of one cache racing on two CPUs both passed the check
  // alone, and the second drained the arrays the first had freed (a crash).
  enum { kClaimed, kNotLive, kBusy, kBuiltIn } verdict = kBuiltIn;
  if (pages_ != nullptr) {
    LockGuard g(caches_lock_);
    if (!cache_handle_ok(c)) {
      verdict = kNotLive;
    } else if (c == &cache_cache_ || c == &slab_cache_ || c->kmalloc_) {
      verdict = kBuiltIn;
    } else if (c->destroying_) {
      verdict = kBusy;
    } else {
      c->destroying_ = true;
      verdict = kClaimed;
    }
  }
  if (verdict == kNotLive || verdict == kBusy) {
    report_bad_cache_handle(verdict == kNotLive
                                ? "kmem_cache_destroy: not a live cache (destroyed already, or never one)"
                                : "kmem_cache_destroy: the cache is being destroyed by another call",
                            c, caller);
    return 0;
  }
  if (verdict == kBuiltIn) {
    report({.code = ErrorCode::InvalidArgument,
            .detail = "kmem_cache_destroy: bootstrap and kmalloc caches go only with teardown()",
            .cache = c->name_,
            .caller = caller});
    return 0;
  }
  drain_cpu_arrays(c);
  release_empty_slabs(c);
  uint64_t live;
  {
    LockGuard g(c->node_lock_);
    live = c->inuse_;
  }
  if (live != 0) {
    c->retired_ = true;
    stop_fast(c);
    {
      LockGuard g(caches_lock_);
      c->destroying_ = false;  // retired: a later destroy that finds it empty finishes it
    }
    return report_live_objects(c, ErrorCode::CacheDestroyedWithLiveObjects, "kmem_cache_destroy",
                               caller);
  }
  destroy_empty_cache(c);
  return 0;
}

size_t SlabAllocator::report_live_objects(KmemCache* c, ErrorCode code, const char* op,
                                          const void* caller) {
  constexpr uint64_t kMaxListed = 64;
  uint64_t live = 0, listed = 0;
  const void* first = nullptr;
  {
    LockGuard g(c->node_lock_);
    live = c->inuse_;
    for (Slab* list : {c->partial_.head, c->full_.head}) {
      for (Slab* s = list; s != nullptr; s = s->next) {
        // Free objects: from the freelist (debug caches: from their state).
        uint64_t free_bits[kMaxObjectsPerSlab / 64] = {};
        uint32_t walked = 0;
        for (void* f = s->freelist; !c->debug_ && f != nullptr && walked < s->objects;
             ++walked) {
          if (!at_object_start(c, s, f)) break;  // verify() names a broken list
          const uint32_t i = object_index(c, s, f);
          free_bits[i / 64] |= uint64_t{1} << (i % 64);
          f = free_link_get(c, f);
        }
        for (uint32_t i = 0; i < s->objects; ++i) {
          const std::byte* obj = s->base + size_t{i} * c->stride_;
          const slab_detail::Track* t = c->debug_ ? track_of(c, obj) : nullptr;
          if (t != nullptr ? t->state == slab_detail::kStateFree
                           : (free_bits[i / 64] & (uint64_t{1} << (i % 64))) != 0)
            continue;
          if (first == nullptr) first = obj;
          if (listed++ < kMaxListed) {
            LogLine line;
            line->str("pfalloc: ").str(c->name_).str(": live object ")
                .hex(reinterpret_cast<uintptr_t>(obj)).str(" size ")
                .dec(t != nullptr ? t->requested : c->object_size_);
            if (t != nullptr)
              line->str(" allocated by ").hex(reinterpret_cast<uintptr_t>(t->alloc_caller));
            line->nl();
          }
        }
      }
    }
  }
  if (listed > kMaxListed) {
    LogLine line;
    line->str("pfalloc: ").str(c->name_).str(": ... and ").dec(listed - kMaxListed)
        .str(" more live objects").nl();
  }
  char detail[128];
  TextBuffer t(detail, sizeof detail);
  t.str(op).str(": ").dec(live).str(live == 1 ? " live object" : " live objects")
      .str(" (addresses logged; their slabs are kept)");
  report({.code = code,
          .detail = detail,
          .address = reinterpret_cast<uintptr_t>(first),
          .address_is_virtual = true,
          .cache = c->name_,
          .caller = caller});
  return live;
}

// ---- init and teardown ----------------------------------------------------------

int SlabAllocator::init(PageAllocator& pages, const SlabConfig& config) {
  if (pages_ != nullptr || !pages.initialised()) return PF_ERR_BAD_CONFIG;
  // A layer made for an owner (its unbound table the owner's) binds to it only.
  if (owner_ != nullptr && owner_ != &pages) return PF_ERR_BAD_CONFIG;
  const unsigned cpus = config.cpu_count != 0 ? config.cpu_count : pages.cpu_count();
  if (cpus == 0 || cpus > kMaxCpus) return PF_ERR_BAD_CONFIG;
  cpu_count_ = cpus;
  debug_ = config.debug;
  freelist_random_ = config.freelist_random;
  init_on_alloc_ = config.init_on_alloc;
  init_on_free_ = config.init_on_free;
  freelist_seed_ = config.freelist_seed;
  pages_ = &pages;
  phys_ = pages.phys_map();
  detail::store_release(lookup_, pages.lookup_table());
  next_id_ = 1;
  caches_ = caches_tail_ = nullptr;
  kmalloc_caches_ = {};
  kmalloc_by_size_ = {};
  new (&cache_cache_) KmemCache();
  new (&slab_cache_) KmemCache();
  setup_cache(&cache_cache_, "kmem_cache", sizeof(KmemCache), alignof(KmemCache), 0, nullptr, true);
  setup_cache(&slab_cache_, "kmem_slab", kSlabHeaderSize, kSlabHeaderSize, 0, nullptr, true);
  for (size_t i = 0; i < kKmallocClassCount; ++i) {
    char name[kCacheNameLength + 1];
    TextBuffer t(name, sizeof name);
    t.str("kmalloc-").dec(kKmallocSizes[i]);
    kmalloc_caches_[i] = create_cache(name, kKmallocSizes[i], kmalloc_class_align(kKmallocSizes[i]),
                                      0, nullptr, true);
    if (kmalloc_caches_[i] == nullptr) {
      teardown();
      return PF_ERR_NO_USABLE_MEMORY;
    }
  }
  for (size_t i = 0; i < kmalloc_by_size_.size(); ++i)
    kmalloc_by_size_[i] = kmalloc_caches_[slab_detail::kmalloc_class_index(i * 8 + 8)];
  set_fast_paths(fail_at_.load(std::memory_order_relaxed) == 0);
  return PF_OK;
}

size_t SlabAllocator::teardown() {
  if (pages_ == nullptr) return 0;
  size_t live = 0;
  KmemCache* next;
  for (KmemCache* c = caches_; c != nullptr; c = next) {
    next = c->next_;
    drain_cpu_arrays(c);
    release_empty_slabs(c);
    if (c->inuse_ != 0) {
      c->retired_ = true;
      stop_fast(c);
      live += report_live_objects(c, ErrorCode::Leak, "teardown", nullptr);
    } else {
      destroy_empty_cache(c);
    }
  }
  // kmalloc's fast path trusts its table while fast_cpus_ != 0 (see there):
  // closed before the table empties, for good (set_fail_after does not
  // reopen it without kmalloc caches).
  set_fast_paths(false);
  kmalloc_caches_ = {};
  kmalloc_by_size_ = {};
  release_empty_slabs(&slab_cache_);
  release_empty_slabs(&cache_cache_);
  if (live == 0) {
    PF_ASSERT(slab_cache_.inuse_ == 0 && cache_cache_.inuse_ == 0);
    pages_ = nullptr;
    // Unbound again (lookup_ in slab.hpp): a later free finds no slab and
    // is refused by its slow path, not looked up in the page allocator.
    detail::store_release(lookup_, unbound_lookup_);
  }
  return live;
}

// ---- introspection ------------------------------------------------------------------

KmemCache* SlabAllocator::cache_of(const void* p) const {
  if (pages_ == nullptr || p == nullptr) return nullptr;
  const Located where = locate(p);
  if (where.target != Target::SlabObject) return nullptr;
  return at_object_start(where.slab->cache, where.slab, p) ? where.slab->cache : nullptr;
}

size_t SlabAllocator::cache_count() const {
  size_t n = 2;  // the bootstrap caches
  LockGuard g(caches_lock_);
  for (const KmemCache* c = caches_; c != nullptr; c = c->next_) ++n;
  return n;
}

}  // namespace pf
