// page_alloc.hpp — the page-frame allocator: zones, per-order free lists
// (the buddy), per-CPU page caches in front of them, contiguous allocation.
//
// PUBLIC SURFACE: fixed; the slab layer, the C API, the kernel and the tests
// are written against it (additions only). Private members are the buddy's own.
//
// Structure. Every managed span of the map (region_is_managed: Usable and the
// two reclaimable classes, reserved until released) is cut at
// the zone limits (16 MiB, 4 GiB) into managed ranges (zone.hpp: Range); a
// range lies in exactly one zone, has its own descriptor array (placed by
// bootmem) and its own per-order free lists. Blocks never span ranges: a
// buddy outside the range never merges. A zone (zone.hpp: ZoneArea, one per
// Zone id) owns the run of ranges between its limits (ranges are sorted by
// address, so a zone's ranges are contiguous in the table), its lock, its
// counters and the buddy proper (take: split; give: merge). PageAllocator
// is the router above them: zone choice and fallback, misuse diagnosis, the
// pfn -> range lookup. In front of each zone, every CPU has a page cache
// (pcp) per order 0..kPcpOrders-1: an array stack of blocks in state Cached.
// A free goes strictly downward: router -> per-CPU cache -> zone -> lists.
//
// The order-0 pair's cost follows its chain of loads that depend on the
// address being freed: free_pages (and descriptor(), where every slab free
// starts) finds a frame of the main range (RangeLookup::main_*) from the
// address alone, with no lookup load that depends on it, and any other
// frame from one lookup entry for the address's chunk (a biased descriptor
// base and the zone's stack row, no Range); then it loads the
// descriptor's second word, checked against this CPU's expected word in one
// compare (frame_word); alloc_pages pops an {address, descriptor} slot and
// writes that word in one store, which the next free's load is forwarded
// from. Loads that do not depend on the address (lookup_, cpus_,
// first_zone_, home_words_) are the cheap kind.
//
// Per-CPU caches: cpu_count + 1 in use, the last shared by callers without
// a CPU (PF_NO_CPU); each behind a CpuGate (cpu_cache.hpp): the owner's fast
// path takes no lock, its slow paths take the gate's lock, anyone else stops
// the owner through the gate. cpus_ has one entry for every value
// platform::cpu_id() can take (kCpuIdBound), so the fast paths index it
// untested: the gates from cpu_count on (the shared one included) are
// closed for good, and all of them while the fast paths are off (see
// fast_cpus_). A block freed on a CPU other than its home
// goes to the home CPU's remote queue (page_alloc.cpp, "Frees on two
// CPUs"). Lock order: hot-add lock -> per-CPU gate -> remote queue lock ->
// zone lock. Only verify() and fork_prepare() hold more than one gate, in
// CPU order (then every remote queue lock, then every zone lock in zone
// order). No lock is held while calling out, except the log/fatal hooks
// from report().
//
// Memory hot-add (add_memory, page_hotplug.cpp). The range table is
// append-only: ranges_[0, range_count_) never move, so a Range* stays valid
// for the allocator's life. pf_init fills the first slots in address order;
// a hot-add appends its pieces above them (it must lie above every managed
// range: holes are refused), so the table stays sorted and each zone's
// ranges stay one contiguous slice. Lock-free readers (find_range) see a new
// range only once it is whole: its slots, descriptors and lookup table are
// written first, then its slots' bases (kUnpublishedBase until then),
// range_count_ and lookup_ are published with release stores (acquire loads
// in find_range), under the zone locks of its zones, before its blocks reach
// any free list. The pfn -> range index (RangeLookup)
// is immutable once published: a hot-add builds a fresh one inside the added
// range and swaps the pointer, so a reader holding the old one still finds
// every range it could legally name (the old table's hints are lower bounds).
//
// Counter invariants (verify()):
//   free_frames + allocated_frames == managed_frames            (per zone and in total)
//   free_frames == sum over free blocks of 2^order + frames in per-CPU caches
//   reserved_frames == frames in managed ranges whose state is Reserved
//   managed_frames + reserved_frames == frames in managed ranges
// Range table invariants (verify()):
//   ranges_[i].end == range_end_[i] for i < range_count_, ~0 from there on;
//   ranges_[i].end <= ranges_[i + 1].base (sorted, disjoint);
//   lookup_->first[c] <= the first i with range_end_[i] > c << lookup_->shift,
//     and the last range ends below kChunkSlots << lookup_->shift;
//   lookup_->direct[c] == uintptr(r.desc) - r.base * 16 + 1 and
//     lookup_->row[c] == (1 + r.zone) * 64 if chunk c lies inside one
//     range r, both 0 (kMixedChunk) otherwise (RangeLookup);
//   lookup_->split_lo[c] / split_hi[c], where not kMixedChunk, == the
//     direct entry of the range holding all of [c << shift, split_at[c]) /
//     [split_at[c], (c + 1) << shift) (a chunk one edge cuts), and all three
//     are 0 for a chunk inside one range;
//   lookup_->main_* name one range m whole (base, frames, bytes, m.desc,
//     its zone's row), or are all 0 (RangeLookup);
//   a hot-added range's first hotplug frames are Reserved (kReservedHotplugMeta).
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "bootmem.hpp"
#include "cpu_cache.hpp"
#include "error.hpp"
#include "frame.hpp"
#include "memmap.hpp"
#include "pfalloc.h"
#include "platform.hpp"
#include "spinlock.hpp"
#include "text.hpp"
#include "types.hpp"
#include "zone.hpp"

namespace pf {

struct PageAllocatorConfig {
  uintptr_t direct_map_offset = 0;  // phys + offset is the frame's virtual address
  unsigned cpu_count = 1;           // 1..kMaxCpus
  // Bootmem places descriptors and per-CPU caches below this physical
  // address (0: anywhere). A kernel whose early direct map covers only the
  // low 4 GiB passes 4 GiB here.
  uint64_t bootmem_limit = 0;
};

// ---- gfp flags: what the calls judge (pfalloc.h) ---------------------------
// Every bit pfalloc.h defines. Any other bit, or __GFP_DMA with __GFP_DMA32
// (two zone limits: Linux's GFP_ZONE_BAD), is misuse, refused on the slow
// paths (report_bad_gfp). kmalloc's fast test includes kGfpUnknown in its
// zone mask at no cost (one test either way).
inline constexpr gfp_t kGfpKnown =
    __GFP_DMA | __GFP_DMA32 | __GFP_ZERO | __GFP_THISZONE | __GFP_NOWARN | __GFP_NORETRY | __GFP_NORECLAIM;
inline constexpr gfp_t kGfpUnknown = ~kGfpKnown;
constexpr bool gfp_valid(gfp_t flags) {
  return (flags & kGfpUnknown) == 0 && (flags & (__GFP_DMA | __GFP_DMA32)) != (__GFP_DMA | __GFP_DMA32);
}
// Reports flags gfp_valid refuses (GfpInvalid, naming `call` and the bits).
[[gnu::cold]] void report_bad_gfp(gfp_t flags, const char* call, const void* caller);

// Where alloc_contig may look.
struct ContigRequest {
  uint64_t align = kPageSize;  // bytes, power of two >= 4096
  uint64_t boundary = 0;       // bytes, power of two; the range may not cross a multiple
  uint64_t max_addr = 0;       // the range must end at or below this (0: no limit)
  gfp_t flags = GFP_KERNEL;    // zone limit and __GFP_ZERO apply as for alloc_pages

  // What alloc_contig refuses as misuse when false: a frame count of 0, an
  // align or boundary that is not a power of two >= 4096 (InvalidArgument),
  // flags gfp_valid refuses (GfpInvalid).
  constexpr bool valid(uint64_t frame_count) const {
    const uint64_t a = align == 0 ? kPageSize : align;
    // Not std::has_single_bit: without SSE that becomes a libgcc popcount call.
    auto pow2 = [](uint64_t v) { return v != 0 && (v & (v - 1)) == 0; };
    return frame_count != 0 && pow2(a) && a >= kPageSize &&
           (boundary == 0 || (pow2(boundary) && boundary >= kPageSize)) && gfp_valid(flags);
  }
};

struct PageCounters {
  uint64_t managed_frames = 0;
  uint64_t free_frames = 0;      // buddy + per-CPU caches
  uint64_t cached_frames = 0;    // the part of free_frames sitting in per-CPU caches
  uint64_t reserved_frames = 0;
  bool operator==(const PageCounters&) const = default;
};

class PageAllocator {
 public:
  PageAllocator() = default;
  PageAllocator(const PageAllocator&) = delete;
  PageAllocator& operator=(const PageAllocator&) = delete;

  // `map` must be normalised. Places the descriptor arrays with bootmem inside
  // usable memory, marks them Reserved, frees the rest. Returns a pf_status:
  // PF_ERR_BAD_CONFIG, nothing written, also for a direct_map_offset that is
  // not a multiple of 4096 or puts managed memory's virtual addresses across
  // 2^64 or at 0.
  int init(const MemoryMap& map, const PageAllocatorConfig& config);
  bool initialised() const;

  // 2^order frames, naturally aligned; PhysAddr{} (null) when none is free.
  // `caller` names the code to blame in reports; by default, whoever called this.
  // Fast path (inline, no lock, no atomic RMW, no call): a small order popped
  // from this CPU's cache. Everything else: alloc_slow.
  PF_FAST_PATH PhysAddr alloc_pages(Order order, gfp_t flags, const void* caller = nullptr) {
    return alloc_pages_or(order, flags, caller,
                          [this](Order o, gfp_t f, const void* c) PF_FAST_LAMBDA { return alloc_slow(o, f, c); });
  }
  // The same fast path, with `slow(order, flags, caller)` in alloc_slow's
  // place: reclaim.hpp's Reclaimer passes one that calls alloc_slow and, if
  // that fails, reclaims the slab caches and retries, so the retry costs the
  // fast path nothing (the page layer itself never calls the slab layer).
  template <typename Slow>
  PF_FAST_PATH PhysAddr alloc_pages_or(Order order, gfp_t flags, const void* caller, Slow slow) {
    const unsigned k = order.value;
    const size_t cpu = platform::cpu_id();  // < kCpuIdBound; caches of no owner are closed
    if (__builtin_expect(k < kPcpOrders, 1)) {
      IrqOff irq;
      CpuCache& c = cpus_[cpu];
      if (__builtin_expect(c.gate.enter(), 1)) {
        // Read inside the gate, as plain data: a hot-add that opens a zone
        // rewrites the routes with every CPU's gate stopped (page_hotplug.cpp).
        // Never 0 once initialised (a refused route names an empty zone,
        // whose stacks stay empty: see first_zone_).
        PcpStack& s = stack_at(c, first_zone_[flags & kZoneFlags] * kStackRowBytes, k);
        // n - 1, and whether n was 0, from one `sub` (its borrow).
        size_t m;
        if (__builtin_expect(!__builtin_sub_overflow(size_t{s.size()}, size_t{1}, &m), 1)) {
          const PcpSlot slot = s.slots[m];
          s.set_size(static_cast<uint32_t>(m));
          store_frame_word(*slot.desc, handed_word(cpu, k));
          c.gate.leave();
          const PhysAddr p{slot.phys};
          if (flags & __GFP_ZERO) __builtin_memset(phys_.to_virt<void>(p), 0, order.bytes());
          return p;
        }
        c.gate.leave();
      }
    }
    return slow(order, flags, caller);
  }
  // Misuse (double free, wrong order, tail frame, reserved or foreign frame,
  // misalignment) is reported by name and the call is refused; so is the
  // second of two frees of one block on two CPUs at the same moment.
  // Fast path (the local free): a small order whose home CPU is this one,
  // pushed onto this CPU's cache. The descriptor and the zone come from the
  // lookup's direct entry (one load; no Range at all), and one wide load
  // inside the gate checks owner 0,
  // Allocated, the order and the home CPU together (frame_word; see "Frees
  // on two CPUs" in page_alloc.cpp for why a plain check and store inside
  // the gate are enough). Every other free goes to free_slow.
  PF_FAST_PATH void free_pages(PhysAddr phys, Order order, const void* caller = nullptr) {
    const unsigned k = order.value;
    const size_t cpu = platform::cpu_id();  // < kCpuIdBound; caches of no owner are closed
    // One mask checks page alignment and block alignment together.
    if (__builtin_expect(k < kPcpOrders && (phys.value & ((kPageSize << k) - 1)) == 0, 1)) {
      FrameDescriptor* d;
      size_t step;
      if (__builtin_expect(locate(phys.value, d, step), 1)) {
        IrqOff irq;
        CpuCache& c = cpus_[cpu];
        if (__builtin_expect(c.gate.enter(), 1)) {
          PcpStack& s = stack_at(c, step, k);
          const uint32_t n = s.size();
          if (__builtin_expect(load_frame_word(*d) == handed_word(cpu, k) &&
                                   n < kPcpHigh[k],
                               1)) {
            to_cached(*d);
            s.slots[n] = PcpSlot{phys.value, d};
            s.set_size(n + 1);
            c.gate.leave();
            return;
          }
          c.gate.leave();
        }
      }
    }
    free_slow(phys, order, caller);
  }
  // Fills out[0..n) with blocks of `order`; n < count only when memory runs
  // out (the n blocks are the caller's). One gate/lock hold per cache refill.
  size_t alloc_pages_bulk(Order order, gfp_t flags, size_t count, PhysAddr* out,
                          const void* caller = nullptr);

  PhysAddr alloc_contig(uint64_t frame_count, const ContigRequest& request);
  // (The Reclaimer calls alloc_slow from the slow path it gives alloc_pages_or.)
  friend class Reclaimer;
  void free_contig(PhysAddr phys, uint64_t frame_count, const void* caller = nullptr);

  // Per-CPU caches back to the buddy: every CPU (and the shared cache), or
  // one (cpu == cpu_count() is the shared cache). Safe while owners run.
  void drain_cpu_caches();
  void drain_cpu_cache(unsigned cpu);

  PageCounters counters() const;
  PageCounters zone_counters(Zone z) const;
  uint64_t free_blocks(Zone z, Order o) const;  // buddy lists only, not per-CPU caches
  // Largest order with a free block in any zone; -1 if none.
  int largest_free_order() const;

  // Linux's /proc/buddyinfo layout: "Node 0, zone      DMA      1      0 ...".
  void format_buddyinfo(TextBuffer& out) const;
  // Zones with their ranges and counters, for the boot report.
  void format_zones(TextBuffer& out) const;

  // Full walk of every structure; reports VerifyFailed with the first
  // violation and returns false. Drains nothing, changes nothing.
  bool verify() const;

  // For the layers above.
  // nullptr if not managed. Inline: the slab layer's frees start here. No
  // load but the table's own fields for a frame of the main range
  // (RangeLookup::main_*), one for a frame in a chunk of one range
  // (RangeLookup::direct), three
  // for a chunk one range edge cuts (RangeLookup::split_*: the top's, the
  // first range's, a zone limit's), the range walk for the rest (a chunk
  // with several edges), inline too.
  PF_FAST_PATH FrameDescriptor* descriptor(Pfn pfn) const {
    return with_descriptor(
        pfn, [](FrameDescriptor* d) PF_FAST_LAMBDA { return d; },
        []() PF_FAST_LAMBDA { return static_cast<FrameDescriptor*>(nullptr); });
  }
  // The same for a caller that acts on the answer: found(d) for a managed
  // frame, missing() otherwise. A caller of descriptor() tests the result
  // for null, which the direct entry's path needs no more than its own test
  // (a direct entry names a real descriptor): here it costs nothing.
  template <typename Found, typename Missing>
  PF_FAST_PATH auto with_descriptor(Pfn pfn, Found found, Missing missing) const -> decltype(missing()) {
    return with_descriptor_in(
        detail::load_acquire(lookup_), [this]() PF_FAST_LAMBDA { return this; }, pfn, found, missing);
  }
  // The published lookup table, opaque, for a caller that keeps its own
  // copy to save a load on its hot path (the slab layer's frees:
  // SlabAllocator::lookup_), and the lookup through such a copy (self()
  // gives the allocator, which only the walk needs: a caller that holds a
  // pointer to it loads that pointer on the walk's path alone). Every table
  // once published stays right for every frame it knew (ranges never move,
  // and the tables hot-adds replace are never freed); frames of a later
  // range fall to the walk (find_range, through the current table). So a
  // copy that is not the current table is slower for hot-added memory,
  // never wrong.
  const void* lookup_table() const { return detail::load_acquire(lookup_); }
  // A table a holder of a copy keeps while it is bound to no allocator
  // (the slab layer before init and after teardown: SlabAllocator::lookup_),
  // so that its frees need no test of their own: an empty table (a default
  // RangeLookup: no main range, main_bytes == main_frames == 0, so no frame
  // passes that test, and every chunk entry kMixedChunk) sends every frame
  // to with_descriptor_past_main's walk, which answers missing() for a null
  // self(). Two of them:
  // empty_lookup_table(): a constant, shared, never published, emitted only
  // where it is used (35 KiB of .rodata: the hosted tests' and benchmarks'
  // own slab layers; the kernel never uses it, its memory is counted in
  // 4 MiB machines: the smp16-4M boot's order-4 allocation failed with it);
  // unbound_lookup_table(): this allocator's init table lookup0_, which is
  // empty until init succeeds and again after a failed one (init empties
  // it), and costs no memory of its own: for the one slab layer bound to
  // this allocator (the C API's), which after a teardown with nothing live
  // holds no slab, so a frame that table finds carries none of its slabs.
  static constexpr const void* empty_lookup_table() { return &kEmptyLookup; }
  constexpr const void* unbound_lookup_table() const { return &lookup0_; }
  // t was published by this allocator: the current table or pf_init's, or
  // (after a hot-add) one it replaced (verify() of a holder of a copy).
  bool lookup_was_published(const void* t) const {
    return t == detail::load_acquire(lookup_) || t == &lookup0_ ||
           (t != nullptr && detail::load_relaxed(hotplug_ranges_) != 0);
  }
  // A frame of the table's main range first (RangeLookup::main_*: its
  // descriptor from the address and fields of the table, which do not
  // depend on the address, so no load of the lookup lies on the free's
  // chain), then the chunk entry.
  template <typename Self, typename Found, typename Missing>
  PF_FAST_PATH static auto with_descriptor_in(const void* table, Self self, Pfn pfn, Found found,
                                              Missing missing) -> decltype(missing()) {
    const RangeLookup* t = static_cast<const RangeLookup*>(table);
    const uint64_t off = pfn.value - t->main_base;  // wraps for a frame below it
    if (__builtin_expect(off < t->main_frames, 1)) return found(t->main_desc + off);
    return with_descriptor_past_main(t, self, pfn, found, missing);
  }
  // The same for the frame of a direct-map address p (the slab layer's
  // frees; both layers share the direct map): the main range's test is made
  // on p itself (main_virt, main_bytes), two instructions fewer on the
  // free's path (no copy of p's physical address, no frame number).
  // pfn_of() gives p's frame past the main range only (through the caller's
  // direct map: a load that stays off the main range's path).
  template <typename Self, typename PfnOf, typename Found, typename Missing>
  PF_FAST_PATH static auto with_descriptor_of_virt(const void* table, Self self, const void* p, PfnOf pfn_of,
                                                   Found found, Missing missing) -> decltype(missing()) {
    const RangeLookup* t = static_cast<const RangeLookup*>(table);
    const uint64_t off = reinterpret_cast<uintptr_t>(p) - t->main_virt;  // wraps below it
    if (__builtin_expect(off < t->main_bytes, 1)) return found(t->main_desc + (off >> kPageShift));
    return with_descriptor_past_main(t, self, pfn_of(), found, missing);
  }
  // with_descriptor_in for a frame outside t's main range.
  template <typename Self, typename Found, typename Missing>
  PF_FAST_PATH static auto with_descriptor_past_main(const void* table, Self self, Pfn pfn, Found found,
                                                     Missing missing) -> decltype(missing()) {
    const RangeLookup* t = static_cast<const RangeLookup*>(table);  // (declared further down)
    const uint64_t c = pfn.value >> t->shift;
    if (__builtin_expect(c < kChunkSlots, 1)) {
      uintptr_t e = t->direct[c];
      if (__builtin_expect(e == kMixedChunk, 0)) {
        // A chunk one edge cuts: the direct entry of pfn's side, if a range
        // holds it. (The empty asm keeps GCC from sharing &t->direct[c]
        // with these addresses, which costs the direct path an instruction.)
        uint64_t i = c;
        asm("" : "+r"(i));
        e = pfn.value < t->split_at[i] ? t->split_lo[i] : t->split_hi[i];
      }
      // One call of found() for both: its body (a whole free) is not copied.
      if (__builtin_expect(e != kMixedChunk, 1)) return found(entry_descriptor(e, pfn.value));
    }
    // Only a holder of a copy bound to no allocator has a null self() (its
    // copy an empty table, which sends every frame here, or its owner's
    // unbound_lookup_table()): no range then, so missing(). On the walk's
    // path only; for the allocator's own lookups self() is `this`, already
    // dereferenced (lookup_): the test folds away. (As a null range, not an early return of missing(): that
    // second exit cost cache_free_bulk's loop a register, spilling the
    // lookup's address: +1 instruction per object in callgrind.)
    const PageAllocator* a = self();
    Range* r = __builtin_expect(a != nullptr, 1) ? a->find_range(pfn.value) : nullptr;
    return r != nullptr ? found(&r->desc[pfn.value - r->base]) : missing();
  }
  const PhysMap& phys_map() const { return phys_; }
  template <typename T = std::byte>
  T* to_virt(PhysAddr p) const { return phys_.to_virt<T>(p); }
  PhysAddr to_phys(const void* v) const { return phys_.to_phys(v); }
  static constexpr size_t descriptor_bytes_per_frame() { return sizeof(FrameDescriptor); }

  // ---- additions -----------------------------------------------------------

  // Frees the BootloaderReclaimable frames of [base, base + frames) to the
  // buddy (merging as usual) and returns how many were released. Frames that
  // are not reclaimable-reserved (free, allocated, bootmem's own, unmanaged)
  // are reported once per call (InvalidArgument) and left alone.
  uint64_t release_reserved(PhysAddr base, uint64_t frames);
  // Frees every frame still reserved as `type` (BootloaderReclaimable or
  // AcpiReclaimable: the kernel is done with that class) and returns how many.
  // What was already released is not there any more, so a second call
  // returns 0. Any other type is misuse: reported (InvalidArgument), 0.
  // Scans every managed frame, a chunk at a time under its zone lock.
  uint64_t release_reserved(RegionType type);
  // Frames now Reserved for `reason` (kReservedByBootmem, ...; frame.hpp).
  // A walk over every managed frame: for reports, not fast paths.
  uint64_t reserved_frames(uint32_t reason) const;

  // Fault injection for tests: the nth page allocation from now (alloc_pages
  // or alloc_contig; n >= 1), and every later one, returns null until
  // set_fail_after(0) resets it. Costs one predictable branch when unused.
  void set_fail_after(uint64_t n);
  // Page allocations counted since the last set_fail_after(n != 0).
  uint64_t fail_after_calls() const { return fail_calls_.load(std::memory_order_relaxed); }
  // set_fail_after(n != 0) is in force (reclaim.hpp retries no failure then).
  bool fail_armed() const { return fail_at_.load(std::memory_order_relaxed) != 0; }

  unsigned cpu_count() const { return cpu_count_; }
  // Frames sitting in CPU `cpu`'s page caches (all zones and orders), read
  // without its lock: a snapshot for reports (0 for cpu >= cpu_count()).
  uint64_t cpu_cached_frames(unsigned cpu) const;

  // The managed ranges, in address order (for reports and tests).
  struct RangeInfo {
    PhysAddr base, end;
    Zone zone = Zone::Dma;
    PhysAddr descriptors;      // where bootmem put this range's descriptor array
    uint64_t descriptor_bytes = 0;
  };
  size_t range_count() const { return detail::load_acquire(range_count_); }
  RangeInfo range_info(size_t i) const;
  // Bytes of descriptor arrays (whole frames) and of everything bootmem placed.
  uint64_t descriptor_bytes() const { return descriptor_bytes_; }
  uint64_t bootmem_bytes() const { return bootmem_.taken_frames() << kPageShift; }

  // Memory hot-add: [base, base + bytes) becomes managed memory; see
  // pf_add_memory in pfalloc.h for the rules and page_hotplug.cpp for how.
  // Returns PF_OK or a PF_ERR_HOTPLUG_* / PF_ERR_NOT_INITIALISED code, with
  // nothing changed on error (the refusal is also logged as a warning).
  int add_memory(PhysAddr base, uint64_t bytes);
  // Hot-added ranges the table still has room for (a hot-add takes one slot
  // per zone it touches, more past every 8 TiB).
  static constexpr size_t kMaxHotplugRanges = 128;
  size_t hotplug_ranges_left() const;
  // Frames of hot-added ranges kept for their own metadata.
  uint64_t hotplug_meta_frames() const { return detail::load_relaxed(hotplug_meta_frames_); }
  // Bytes of the pfn lookup each hot-add keeps in its metadata (after its
  // descriptors, 64-byte aligned; page_hotplug.cpp).
  static constexpr uint64_t hotplug_lookup_bytes();

  // Fork support (page_hotplug.cpp): every lock of this allocator taken in
  // the documented order (hot-add lock, every CPU's gate with its owner
  // stopped, every zone lock), then released. Between the two the calling
  // thread must not allocate. The caches stay intact.
  void fork_prepare();
  void fork_release();

  // Per-CPU cache sizing, per order: blocks moved per refill/drain, and the
  // high-water mark at which a free drains one batch back to the zone.
  static constexpr unsigned kPcpOrders = 4;
  static constexpr uint32_t kPcpBatch[kPcpOrders] = {32, 16, 8, 4};
  static constexpr uint32_t kPcpHigh[kPcpOrders] = {128, 64, 32, 16};
  // Blocks one refill of `order` takes from a zone of `managed` frames:
  // kPcpBatch[order] (128 KiB), but at most 1/kPcpZoneShare of the zone's
  // frames, and at least one block. Why: in a tiny zone a full batch is a
  // large share of what is free, taken from the smallest blocks up and so
  // splitting the large ones (-m 3M -smp 6: ~600 KiB free; the refills of
  // orders 0-3 for a few slabs split the only free order-6 block, and the
  // 160000-byte kmalloc after them failed with 540 KiB free). Zones of
  // 8 MiB and more keep the full batches (the DMA zone of a 16 MiB+
  // machine included); Linux scales its batch with the zone too.
  static constexpr uint64_t kPcpZoneShare = 64;
  static constexpr uint32_t pcp_refill_batch(uint64_t managed, unsigned order) {
    const uint64_t cap = (managed / kPcpZoneShare) >> order;
    return cap >= kPcpBatch[order] ? kPcpBatch[order] : cap == 0 ? 1 : static_cast<uint32_t>(cap);
  }

 private:
  static constexpr unsigned kChunkSlots = 1024;
  // The pfn index, immutable once published (35 KiB). Frames are cut into
  // kChunkSlots chunks of 2^shift frames (the smallest shift that covers
  // the last range). Per chunk c, frames [c << shift, (c + 1) << shift):
  //   first[c] <= the first i with range_end_[i] > c << shift (a lower bound
  //     to walk from: find_range);
  //   if the chunk lies inside one range r (a direct chunk):
  //     direct[c] == uintptr(r.desc) - r.base * sizeof(FrameDescriptor) + 1,
  //       in integers: the descriptor of its frame p is
  //       direct[c] - 1 + p * sizeof(FrameDescriptor), one load
  //       (entry_descriptor; the + 1 tells a direct entry from kMixedChunk
  //       even where the difference is 0);
  //     row[c] == (1 + r.zone) * kStackRowBytes, where r's zone's stacks
  //       sit in a CpuCache (stack_at), loaded beside direct[c];
  //   otherwise (a range boundary or frames of no range: a hole, past the
  //   top) direct[c] == kMixedChunk and row[c] == 0: walk (find_range),
  //   unless one edge e cuts the chunk (frames [lo, e) and [e, hi) each lie
  //   inside one range or none: the chunk of the top, of the first range's
  //   start, of a zone limit that is not chunk-aligned): then
  //     split_at[c] == e, and split_lo[c] / split_hi[c] == the direct entry
  //     of the range holding [lo, e) / [e, hi), kMixedChunk for a side no
  //     range holds (a hole: walk, which finds nothing);
  //   split_at[c] == 0 and both sides kMixedChunk for every other chunk.
  //   (Only the slab layer's lookup, with_descriptor, reads them; the page
  //   frees' locate walks in any mixed chunk.)
  // A zeroed table is all mixed.
  //
  // Before any chunk, the main range m (fill_lookup: the largest range of
  // the highest zone that has memory, where GFP_KERNEL's pages and slabs
  // come from first; none while there is no range):
  //   main_base == m.base, main_frames == m.end - m.base,
  //   main_phys == m.base << kPageShift, main_bytes == main_frames << kPageShift,
  //   main_virt == main_phys + the direct map's offset (phys_.offset),
  //   main_desc == m.desc, main_row == (1 + m.zone) * kStackRowBytes;
  //   all 0 if none (main_frames == 0: no frame passes the test).
  // A frame p of m has descriptor main_desc + (p - main_base): the only
  // load on its way is the descriptor's own (the table's fields do not
  // depend on p), and one unsigned compare refuses every other frame, which
  // goes on to its chunk as before. m's chunks keep their entries (the
  // walk's hints, a reader holding an older table, verify()).
  static constexpr uintptr_t kMixedChunk = 0, kDirectTag = 1;
  struct RangeLookup {
    uint64_t main_base = 0, main_frames = 0;
    uint64_t main_phys = 0, main_bytes = 0;
    uint64_t main_virt = 0;  // with_descriptor_of_virt: the test on a direct-map address
    FrameDescriptor* main_desc = nullptr;
    uint8_t main_row = 0;
    uint8_t shift = 63;                // frames per chunk: 2^shift
    uint8_t addr_shift = 63;           // shift + kPageShift: the chunk of an address
    uintptr_t direct[kChunkSlots] = {};
    uint64_t split_at[kChunkSlots] = {};
    uintptr_t split_lo[kChunkSlots] = {};
    uintptr_t split_hi[kChunkSlots] = {};
    uint8_t row[kChunkSlots] = {};
    uint16_t first[kChunkSlots] = {};
  };
  // empty_lookup_table(): a default table, defined below the class (inline:
  // emitted only where it is used).
  static const RangeLookup kEmptyLookup;
  // Enough for every map pf_init's MemoryMap accepts (issue 11, case 7). A
  // run of managed frames starts where a usable region opens or another
  // region, a reservation or the low range ends: at most kRawCapacity +
  // kReservedCapacity + 1 runs. The zone limits cut kZoneCount - 1 more,
  // the chunk cuts (kRangeChunkShift) one per 8 TiB below 2^kPhysAddrBits.
  static constexpr size_t kMaxInitRanges =
      MemoryMap::kRawCapacity + MemoryMap::kReservedCapacity + 1 + (kZoneCount - 1) +
      ((size_t{1} << (kPhysAddrBits - kPageShift - kRangeChunkShift)) - 1);
  static_assert(BootMem::kMaxTaken >= kMaxInitRanges + 1, "bootmem must place every range's descriptors");
  // Plus the hot-added ones: 128 slots of ~100 bytes (Range + its end) cost
  // ~13 KiB in the PageAllocator object.
  static constexpr size_t kMaxRanges = kMaxInitRanges + kMaxHotplugRanges;

  struct PcpSlot {
    uint64_t phys;  // the block's address (what alloc_pages returns)
    FrameDescriptor* desc;
    uint64_t pfn() const { return phys >> kPageShift; }
  };
  // kPcpHigh[order] slots; `slots` is nullptr if the zone is empty.
  using PcpStack = CpuStack<PcpSlot>;
  // One CPU's page caches and the gate in front of them (one cache line
  // for the gate, three for the stacks: 256 bytes, so indexing is a shift).
  // Born closed: set_fast_paths opens the gates of the CPUs.
  struct alignas(64) CpuCache {
    ClosedCpuGate gate;
    PcpStack stacks[kZoneCount][kPcpOrders];
  };
  static_assert(sizeof(CpuCache) == 256);
  // What cpus_ points at before init: every allocator's, shared, constant-
  // initialised (page_alloc.cpp), all closed. The fast paths of any
  // uninitialised instance fail on it; nothing locks or stops its gates.
  static CpuCache closed_caches_[kCpuIdBound];
  // The fast paths see a CpuCache as rows of 64 bytes: row 0 the gate, row
  // 1 + z zone z's stacks (so 1 + zone, as first_zone_ and the lookup hold
  // it, names its row with one shift), stack_at(c, row, k) == &c.stacks[z][k].
  static constexpr size_t kStackRowBytes = sizeof(PcpStack) * kPcpOrders;
  static_assert(sizeof(CpuGate) == kStackRowBytes, "stacks[z] is row 1 + z");
  static_assert(kZoneCount * kStackRowBytes <= 0xff, "RangeLookup::row holds a row's offset");
  PF_FAST_PATH static PcpStack& stack_at(CpuCache& c, size_t row_bytes, unsigned k) {
    return reinterpret_cast<PcpStack*>(reinterpret_cast<char*>(&c) + row_bytes)[k];
  }
  // A CPU's remote queue: tokens (frame numbers) of blocks whose home is
  // this CPU and which another CPU claimed (RemoteFreed). Its own lock, on
  // its own lines, so remote frees never touch the owner's gate line. The
  // home CPU (or a stopper holding its data) collects it. kRemoteCap is
  // the burst a remote CPU can free before it must stop the home CPU: at
  // 128, a producer/consumer pair of threads stopped the home so often
  // that a cross-thread page free cost 2x (133 ns against 67 ns at 512).
  // At 512 it still fed on itself: once the freeing thread fell behind, the
  // allocating one idled (its bench ring full) and collected nothing, so
  // every second batch of 256 frees filled the queue and the freer stopped
  // the home (a membarrier) and collected 512 tokens into a stack of 128,
  // draining the rest to the zone for the home to refill: the freer's work
  // per page grew and it stayed behind (xthread.pages slow in 3 to 7 of 10
  // repetitions at 200-290 ns/page against ~60). At 2048 the queue absorbs
  // such a burst (the bench's 8 batches in flight), no stop happens in
  // steady state and the slow mode went away. 16 KiB of tokens per CPU and
  // buffer; placed untouched (nothing clears buf).
  // Two token buffers: remote frees fill buf[fill] under the lock; a
  // collect swaps them under the lock (O(1)) and walks the full one with
  // only the home CPU's data held, so remote frees go on meanwhile instead
  // of spinning on the lock for the whole walk (page_pcp.cpp).
  // A token is (pfn << 2) | order: the order the claim saw, so the frames
  // it counts can be uncounted whatever became of the block.
  static constexpr uint32_t kRemoteCap = 2048;
  static_assert(kPcpOrders <= 4, "a token keeps the order in 2 bits");
  static constexpr uint64_t token(uint64_t pfn, unsigned order) { return pfn << 2 | order; }
  static constexpr uint64_t token_pfn(uint64_t t) { return t >> 2; }
  static constexpr unsigned token_order(uint64_t t) { return static_cast<unsigned>(t & 3); }
  struct alignas(64) RemoteQueue {
    SpinLock lock;
    uint32_t count = 0;  // guarded by lock; <= kRemoteCap tokens in buf[fill]
    uint32_t fill = 0;   // guarded by lock: the buffer remote frees fill (0 or 1)
    // Frames its queued tokens name, per zone: counted free (a remote-freed
    // block is free to its user; counters() reads these without the lock).
    // Written under the lock (load + store, no RMW).
    std::atomic<uint64_t> frames[kZoneCount] = {};
    // The collect's side, written only with the home CPU's data held (its
    // gate), on a line of its own: the walk writes it per token while
    // remote frees write the line above (sharing one line cost the walk a
    // third of its time). PENDING tokens: buf[fill ^ 1][pend_at, pend_end),
    // swapped out of the queue by a collect and not yet walked; an
    // allocation's collect stops where a block's stack is full (rather than
    // draining the stack to the zone only to refill it later), and the next
    // collect goes on from there; the buffers are swapped again only once
    // nothing is pending. collecting[z] == sum of 2^order over the pending
    // tokens of zone z (counted free like `frames`).
    alignas(64) std::atomic<uint64_t> collecting[kZoneCount] = {};
    uint32_t pend_at = 0, pend_end = 0;
    uint64_t buf[2][kRemoteCap];
    const uint64_t* tokens() const { return buf[fill]; }
    const uint64_t* pending() const { return buf[fill ^ 1]; }
  };
  // Tokens found stale by a collect (the block was freed twice at once):
  // reported once every lock is dropped, the first kRejectedNamed by frame,
  // the rest counted (it lives on the stack of allocation paths).
  static constexpr uint32_t kRejectedNamed = 16;
  struct Rejected {
    uint32_t count = 0;  // all found; pfn[] names the first kRejectedNamed
    uint64_t pfn[kRejectedNamed];
  };
  CpuAccess hold(unsigned cpu) const {
    return CpuAccess(cpus_[cpu].gate, cpu < cpu_count_ && cpu != platform::cpu_id());
  }
  auto all_gates() const {
    return [this](unsigned i) -> const CpuGate& { return cpus_[i].gate; };
  }

  // What free_pages accepts (the one rule; the fast path, the slow path and
  // the misuse diagnosis all go by it): the head of a block handed out by
  // alloc_pages at exactly this order, not a piece of alloc_contig. (The
  // slab layer turns its slabs back to Allocated before it frees them.)
  PF_FAST_PATH static bool freeable(const FrameDescriptor& d, unsigned order) {
    // owner 0: a plain alloc_pages block. The allocator's own blocks
    // (kmalloc-large, per-CPU arrays, contig pieces) carry a tag: refused.
    return frame_state(d) == FrameState::Allocated && frame_order(d) == order && frame_owner(d) == 0;
  }
  // A freeable block into a cache: its owner is 0 already, and `aux` (its
  // home CPU) is rewritten at the next hand-out, so the state is the one
  // store (another CPU's racing free reads the other fields: see
  // "Frees on two CPUs" in page_alloc.cpp).
  PF_FAST_PATH static void to_cached(FrameDescriptor& d) { set_frame_state(d, FrameState::Cached); }
  // frame_word(0, Allocated, k, home_cpu_tag(cpu)): the second word of a
  // plain block of order k handed out by CPU cpu's cache (cpu < cpu_count_).
  PF_FAST_PATH uint64_t handed_word(size_t cpu, unsigned k) const {
    return home_words_[cpu] + frame_word(0, FrameState::Tail, k, 0);
  }
  // The home-CPU tag of a block handed out from cache `cpu` (the shared
  // cache, cpu_count_, is nobody's home).
  uint16_t home_tag(unsigned cpu) const { return cpu < cpu_count_ ? home_cpu_tag(cpu) : kNoHomeCpu; }

  // --- init (page_alloc.cpp)
  int build_ranges(const MemoryMap& map);
  // Whether managed memory's direct-map addresses neither wrap nor reach 0
  // (after build_ranges; init refuses the offset when not).
  bool direct_map_fits(uint64_t end_frame) const;
  // Cuts frames [lo, hi) into ranges (zone limits, kRangeChunkShift) in
  // slots [*count, ...), advancing *count; false if the table would overflow
  // (nothing written then). Init and hot-add both build ranges with it. The
  // slots stay unpublished (base == kUnpublishedBase) until
  // publish_ranges(first, count, lo) stores their bases with release.
  bool append_ranges(uint64_t lo, uint64_t hi, uint32_t* count);
  void publish_ranges(uint32_t first, uint32_t count, uint64_t lo);
  // The first frame slot i will have (slots [first, i) cover lo onward).
  uint64_t slot_base(uint32_t i, uint32_t first, uint64_t lo) const {
    return i == first ? lo : range_end_[i - 1];
  }
  static uint32_t ranges_needed(uint64_t lo, uint64_t hi);
  // The zone routes (fallback_, fallback_count_, first_zone_) from which
  // zones are populated; stored with relaxed atomics (readers run unlocked).
  void build_routes();
  int place_metadata(const MemoryMap& map, const PageAllocatorConfig& config);
  void populate(const MemoryMap& map);
  void mark_reserved(Range& r, uint64_t from, uint64_t to, uint32_t why);
  void free_span_at_init(Range& r, uint64_t from, uint64_t to);
  // Reserved frames [from, to) of r become free blocks (merging); zone lock held.
  uint64_t release_run(Range& r, uint64_t from, uint64_t to);

  // --- lookup
  // A reader of the lookup (with_descriptor, locate) loads lookup_ and its
  // shift, which do not depend on pfn, then the entry that does. A reader
  // holding a lookup a hot-add has since replaced still gets right answers:
  // ranges never move, and a chunk (or a side of a chunk) that lay inside
  // one range then still does.
  // Of a direct entry `e` of pfn's chunk (or of pfn's side of it).
  static FrameDescriptor* entry_descriptor(uintptr_t e, uint64_t pfn) {
    return reinterpret_cast<FrameDescriptor*>(e - kDirectTag + pfn * sizeof(FrameDescriptor));
  }

  // The descriptor of the frame at page-aligned address `phys`, and the
  // byte offset of its zone's row of stacks in a CpuCache (stack_at); false
  // for a frame no range holds. The main range's frame from the table's
  // fields (RangeLookup::main_*), a direct chunk's frame in one load, all from
  // the address (pfn * 16 == phys >> 8); a mixed chunk's (the chunk of the
  // top, of a hole, of a zone limit that is not chunk-aligned) through the
  // range walk, still inline, so that its frees stay on the fast path.
  PF_FAST_PATH bool locate(uint64_t phys, FrameDescriptor*& d, size_t& row) const {
    static_assert(sizeof(FrameDescriptor) == uint64_t{1} << (kPageShift - 8));
    const RangeLookup* t = detail::load_acquire(lookup_);
    const uint64_t off = phys - t->main_phys;  // the main range first (RangeLookup)
    if (__builtin_expect(off < t->main_bytes, 1)) {
      // Page-aligned: off >> 8 == (off >> kPageShift) * sizeof(FrameDescriptor).
      d = reinterpret_cast<FrameDescriptor*>(reinterpret_cast<uintptr_t>(t->main_desc) + (off >> 8));
      row = t->main_row;
      return true;
    }
    const uint64_t c = phys >> t->addr_shift;
    const uintptr_t e = __builtin_expect(c < kChunkSlots, 1) ? t->direct[c] : kMixedChunk;
    if (__builtin_expect(e != kMixedChunk, 1)) {  // then c < kChunkSlots
      d = reinterpret_cast<FrameDescriptor*>(e - kDirectTag + (phys >> 8));
      row = t->row[c];
      return true;
    }
    const uint64_t pfn = phys >> kPageShift;
    const Range* r = find_range(pfn);
    if (r == nullptr) return false;
    d = &r->desc[pfn - r->base];
    row = (static_cast<size_t>(r->zone) + 1) * kStackRowBytes;
    return true;
  }
  // pfn -> its range in a few instructions: first[pfn >> shift] is the
  // first range ending above the chunk's start, and range_end_ (~0 past the
  // last range) stops the walk; usually no step at all.
  // lookup_ is the published RangeLookup (init's lookup0_, or a hot-add's).
  // The walk stops at the range ending above pfn, or at a slot not yet
  // published (its end may be written, its base is still kUnpublishedBase,
  // and the last slot is never used), so no count needs checking: the
  // acquire load of base is what makes a range visible. A pfn beyond the
  // lookup's reach (never a managed one) wraps onto some chunk, whose hint
  // is still a lower bound: it walks to the end and finds nothing.
  PF_FAST_PATH Range* find_range(uint64_t pfn) const {
    const RangeLookup* t = detail::load_acquire(lookup_);
    size_t i = t->first[(pfn >> t->shift) & (kChunkSlots - 1)];
    while (__builtin_expect(detail::load_relaxed(range_end_[i]) <= pfn, 0)) ++i;
    Range* r = const_cast<Range*>(&ranges_[i]);
    return pfn >= detail::load_acquire(r->base) ? r : nullptr;
  }
  // The calling CPU's cache index: its own, or the shared one (cpu_count_).
  unsigned this_cpu() const {
    const unsigned id = platform::cpu_id_claim();
    return id < cpu_count_ ? id : cpu_count_;
  }
  ZoneArea& zone(Zone z) { return zones_[static_cast<unsigned>(z)]; }
  const ZoneArea& zone(Zone z) const { return zones_[static_cast<unsigned>(z)]; }
  ZoneArea& zone_of(const Range& r) { return zone(r.zone); }

  // The buddy proper is the zones' (zone.hpp: ZoneArea::take/give).

  // --- per-CPU caches (page_pcp.cpp)
  PhysAddr alloc_cached(Zone z, Order order);
  uint32_t refill(PcpStack& s, Zone z, Order order);
  // Frees that are not the local fast path (page_alloc.cpp): true if this
  // free won the block, false if another free did (the caller diagnoses).
  bool free_claimed(Range& r, Pfn pfn, FrameDescriptor& d, Order order);
  bool free_remote(unsigned home, Range& r, Pfn pfn, FrameDescriptor& d);
  // CPU `cpu`'s data is held: its remote queue's blocks into its caches;
  // all of them, or (all == false) until a block finds its stack full.
  void collect_remote(unsigned cpu, Rejected& out, bool all);
  void collect_cpu(unsigned cpu);  // holds `cpu` (a stop), collects, reports
  void report_rejected(const Rejected& r) const;
  void push_cached(CpuCache& c, Range& r, Pfn pfn, FrameDescriptor& d, Order order);
  void drain_stack(PcpStack& s, Zone z, Order order, uint32_t count);
  void drain_held(CpuCache& c);  // the CPU's data is held (CpuAccess)

  // --- slow paths (page_alloc.cpp); the fast paths are inline above
  [[gnu::noinline, gnu::cold]] PhysAddr alloc_slow(Order order, gfp_t flags, const void* caller);
  [[gnu::noinline, gnu::cold]] void free_slow(PhysAddr phys, Order order, const void* caller);
  PhysAddr alloc_uncached(Zone z, Order order);
  PhysAddr alloc_in_zones(Order order, gfp_t flags, bool use_cache);
  bool fail_injected();
  // Opens the gates of [0, cpu_count_) (on) or none, closes every other of
  // the kCpuIdBound, and sets fast_cpus_ to match. Initialised only.
  void set_fast_paths(bool on);
  void report_bad_free(ErrorCode code, const char* detail, uint64_t phys, uint64_t pfn,
                       const void* caller) const;
  void diagnose_bad_free(Range* r, PhysAddr phys, Order order, const void* caller) const;
  bool find_contig(Zone z, uint64_t frames, uint64_t align, uint64_t boundary,
                   uint64_t end_limit, uint64_t& out);
  void carve_contig(Range& r, Pfn run_start, Pfn start, uint64_t frames);
  struct VerifyTally;  // page_verify.cpp
  bool verify_locked() const;
  bool verify_lists(const Range& r, VerifyTally& t) const;
  bool verify_descriptors(const Range& r, VerifyTally& t) const;
  bool verify_caches(VerifyTally& t) const;
  // Records the first violation (verify() reports it once every lock is
  // dropped: a handler must never run with all CPUs and zones held).
  bool verify_fail(const char* what, uint64_t pfn) const;
  struct VerifyFailure {
    const char* what = nullptr;
    uint64_t pfn = 0;
  };
  mutable VerifyFailure verify_failure_;  // written under every zone lock, by verify() only

  // --- hot-add (page_hotplug.cpp)
  struct HotplugPlan;
  int plan_hotplug(uint64_t lo, uint64_t hi, HotplugPlan& plan) const;
  // Fills t for ranges_[0, count); slots from first_new on are not
  // published yet (their bases are slot_base(i, first_new, new_lo)).
  void fill_lookup(RangeLookup& t, uint32_t count, uint32_t first_new, uint64_t new_lo) const;
  uint64_t lookup_base(uint32_t i, uint32_t first_new, uint64_t new_lo) const;
  static uintptr_t direct_entry(const Range& r, uint64_t base);
  bool verify_lookup(uint32_t count) const;

  PhysMap phys_;
  // --- the buddy's own state below (zones, ranges, per-CPU caches) ---
  Range ranges_[kMaxRanges + 1];  // the last is never used: find_range's stop
  // ranges_[i].end, packed for the lookup; ~0 from range_count_ on.
  static constexpr std::array<uint64_t, kMaxRanges + 1> no_ends() {
    std::array<uint64_t, kMaxRanges + 1> a{};
    for (uint64_t& e : a) e = ~uint64_t{0};
    return a;
  }
  std::array<uint64_t, kMaxRanges + 1> range_end_ = no_ends();
  uint32_t range_count_ = 0;  // published with a release store (hot-add)
  RangeLookup lookup0_;                      // pf_init's
  const RangeLookup* lookup_ = &lookup0_;    // the published one (acquire/release)
  // Non-usable map entries and pf_init's reserved ranges above the managed
  // top at init (a hot-add must not overlap them); past kKnownSpans the last
  // one grows to cover the rest (conservative: it may refuse memory between
  // the spans it joins; room for every reserved range and 16 entries).
  static constexpr unsigned kKnownSpans = 16 + MemoryMap::kReservedCapacity;
  struct KnownSpan {
    uint64_t base = 0, end = 0;  // frames
  };
  KnownSpan known_[kKnownSpans] = {};
  unsigned known_count_ = 0;
  mutable SpinLock hotplug_lock_;  // serialises hot-adds; outermost lock of this allocator
  uint64_t hotplug_meta_frames_ = 0;  // written under hotplug_lock_ and zone locks, read relaxed
  uint32_t hotplug_ranges_ = 0;       // slots hot-adds took (<= kMaxHotplugRanges)
  unsigned fork_self_ = 0;            // fork_prepare's CPU, for fork_release
  unsigned long fork_irq_ = 0;
  ZoneArea zones_[kZoneCount];
  // Zones tried for a request limited to zone z: z, then lower, without empty ones.
  uint8_t fallback_[kZoneCount][kZoneCount] = {};
  uint8_t fallback_count_[kZoneCount] = {};
  // 1 + the zone whose per-CPU cache alloc_pages tries first, by the zone
  // bits of the flags (__GFP_DMA | __GFP_DMA32 | __GFP_THISZONE). Where
  // the flags allow no zone, 1 + the flags' limit zone, which is then empty
  // (no zone at or below the limit has memory, or __GFP_THISZONE and the
  // limit's zone has none): its stacks stay empty (no block of an empty
  // zone exists to push), so the fast path finds nothing and alloc_slow
  // says no. So never 0 once initialised (verify() checks both): the fast
  // path reads it without a test.
  // 0 only before init (every gate is closed then: no fast path runs).
  static constexpr gfp_t kZoneFlags = __GFP_DMA | __GFP_DMA32 | __GFP_THISZONE;
  uint8_t first_zone_[kZoneFlags + 1] = {};
  // home_words_[cpu] == frame_word(0, Allocated, 0, home_cpu_tag(cpu)) for
  // cpu < cpu_count_: a block of order k handed out by CPU cpu's cache has
  // the word home_words_[cpu] | k << 40 (one load instead of four
  // instructions on each fast path).
  uint64_t home_words_[kMaxCpus] = {};
  // kCpuIdBound entries, placed by bootmem: [0, cpu_count_) the CPUs',
  // cpu_count_ the shared one (both with slot arrays), the rest closed for
  // good with empty stacks (no slots), there only for the fast paths to fail
  // on. Before init (and after a failed one): closed_caches_, every gate
  // closed, nothing else ever touched but their active_ words.
  CpuCache* cpus_ = closed_caches_;
  RemoteQueue* remote_ = nullptr;  // cpu_count_ entries, placed by bootmem with cpus_
  unsigned cpu_count_ = 0;
  uint64_t descriptor_bytes_ = 0;
  std::atomic<uint64_t> fail_at_{0};
  // cpu_count_ while the fast paths may run; 0 before init and while fault
  // injection is armed. The fast paths do not read it: the gates say it
  //   cpus_[i].gate.closed()  <=>  i >= fast_cpus_      (i < kCpuIdBound)
  // (set_fast_paths keeps both; verify() checks).
  std::atomic<uint32_t> fast_cpus_{0};
  std::atomic<uint64_t> fail_calls_{0};
  bool initialised_ = false;
  BootMem bootmem_;
};

constexpr uint64_t PageAllocator::hotplug_lookup_bytes() { return sizeof(RangeLookup); }
inline constexpr PageAllocator::RangeLookup PageAllocator::kEmptyLookup{};

}  // namespace pf
