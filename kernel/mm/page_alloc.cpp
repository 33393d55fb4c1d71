// page_alloc.cpp — the page allocator's router and setup: init (ranges,
// bootmem placement, descriptors, the first free blocks), the slow paths of
// alloc_pages/free_pages (large orders, zone choice and fallback, fault
// injection, the always-on misuse diagnosis), release_reserved and the
// counters. The buddy itself (free lists, split, coalesce) is ZoneArea's
// (zone.cpp); the fast paths and the per-CPU caches are in page_pcp.cpp,
// contiguous allocation in page_contig.cpp, verify() in page_verify.cpp, the
// text reports in page_stats.cpp.
//
// A free goes strictly downward: free_pages (C API) -> free_slow here
// (freeable() or diagnose) -> the CPU's page cache (page_pcp.cpp) -> the
// zone (ZoneArea::give) -> its range's lists. Nothing below calls up.
// Lock order: per-CPU cache gate -> remote queue lock -> zone lock (see
// page_alloc.hpp).
//
// Frees on two CPUs (issue 11, case 6). One block freed twice at the same
// moment must be accepted once and reported once, and the local fast path
// must keep its plain check and store. So the transition Allocated -> free
// has exactly one kind of writer per block:
//   - A plain block remembers its home CPU (descriptor `aux`, frame.hpp): the
//     CPU whose cache handed it out, or none (taken from a zone directly, or
//     through the shared cache).
//   - Local free: on the home CPU, inside its gate (or holding its data on
//     the slow path): check Allocated, store Cached, push. Plain: the home
//     CPU never races itself, and no other CPU ever stores Cached or Free
//     over an Allocated block that has a home.
//   - Remote free: on any other CPU: under the home CPU's remote-queue lock,
//     claim Allocated -> RemoteFreed with a compare-and-swap and leave a token
//     (the frame number) on that queue. Two remote frees: one claim wins,
//     the other sees RemoteFreed and is reported at once.
//   - No home, or an order above the caches: every free claims
//     Allocated -> Cached (into this CPU's cache) or Allocated -> Free (under
//     the zone lock) with a compare-and-swap: one wins, one is reported.
//   - Local against remote: either the claim fails (the local store came
//     first: reported at once), or the local check sees RemoteFreed (reported
//     at once), or the local check read Allocated before the claim and its
//     store overwrote RemoteFreed with Cached: both were accepted for now.
//     That last case is caught before the block can be handed out twice:
//     tokens are consumed only with the home CPU's data held (its own slow
//     path, or a stopper through its gate, which waits out any local free
//     in flight), and a token is honoured only if its block is still
//     RemoteFreed and homed there (then nobody else can move it: the
//     collect's store RemoteFreed -> Cached is plain, page_pcp.cpp); a token
//     whose block is anything else is the second free of a
//     racing pair and is reported then (PageDoubleFree, after the locks are
//     dropped). The overwritten block sits in the home CPU's cache once.
// Invariants: a RemoteFreed block has at least one token on its home CPU's
// queue, queued (under the queue lock) or pending (in the buffer a collect
// swapped out, walked with that CPU's data held; so whoever holds the gate
// and the queue lock, as verify() does, sees its token), and is touched by
// nobody but its home's collector; tokens <= kRemoteCap per buffer;
// queue.frames[z] == sum of 2^order over its queued tokens of zone z,
// queue.collecting[z] the same over the pending ones.
// counters() count the tokens' frames as free
// (in cached_frames: they wait on a CPU), the descriptor walk of verify()
// counts RemoteFreed blocks as allocated (so managed == free + allocated
// holds for the descriptors whatever the tokens say; a stale token counts
// its block twice in counters() until it is collected and reported).
// The home CPU collects its queue when its stack for an allocation runs
// empty (before asking the zone); drains (pf_reclaim, the last resort of
// alloc_pages, drain_cpu_cache) collect it too, and a remote free that
// finds the queue full collects it by stopping the home CPU.
#include "page_alloc.hpp"

#include <bit>
#include <new>

#include "error.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::bump;
using detail::drop;
using detail::peek;

namespace {

constexpr uint64_t kRangeChunkFrames = uint64_t{1} << kRangeChunkShift;  // see zone.hpp
constexpr bool is_managed(RegionType t) { return region_is_managed(t); }
// The reason a reclaimable class's frames carry while reserved; kNotReclaimable
// for every other type.
constexpr uint32_t kNotReclaimable = ~uint32_t{0};
constexpr uint32_t reclaim_reason(RegionType t) {
  return t == RegionType::BootloaderReclaimable ? kReservedBootloaderReclaimable
         : t == RegionType::AcpiReclaimable     ? kReservedAcpiReclaimable
                                                : kNotReclaimable;
}
// release_reserved(type) holds a zone lock for at most this many frames' scan.
constexpr uint64_t kReleaseChunkFrames = uint64_t{1} << 14;
constexpr uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
constexpr uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
// Whole frames of r's descriptor array.
uint64_t descriptor_frames(const Range& r) {
  return ((r.end - r.base) * sizeof(FrameDescriptor) + kPageSize - 1) >> kPageShift;
}

}  // namespace

bool PageAllocator::initialised() const { return initialised_; }

constinit PageAllocator::CpuCache PageAllocator::closed_caches_[kCpuIdBound];

// ---- init ----------------------------------------------------------------

int PageAllocator::init(const MemoryMap& map, const PageAllocatorConfig& config) {
  // A direct map offset that is not a multiple of the page size would put
  // every frame at an unaligned virtual address: the metadata's aligned
  // stores fault (pf_init crashed), and no alignment pfalloc.h promises
  // (naturally aligned blocks, kmalloc's power-of-two sizes) would hold.
  if (initialised_ || !map.normalised() || config.cpu_count == 0 || config.cpu_count > kMaxCpus ||
      config.direct_map_offset % kPageSize != 0)
    return PF_ERR_BAD_CONFIG;
  phys_ = PhysMap{config.direct_map_offset};
  cpu_count_ = config.cpu_count;
  for (unsigned c = 0; c < cpu_count_; ++c) home_words_[c] = frame_word(0, FrameState::Allocated, 0, home_cpu_tag(c));

  int status = build_ranges(map);
  if (status == PF_OK && !direct_map_fits(ranges_[range_count_ - 1].end)) status = PF_ERR_BAD_CONFIG;
  if (status == PF_OK) status = place_metadata(map, config);
  if (status != PF_OK) {
    for (uint32_t i = 0; i < range_count_; ++i) ranges_[i] = Range{};
    range_count_ = 0;
    range_end_ = no_ends();
    lookup0_ = RangeLookup{};
    known_count_ = 0;
    cpu_count_ = 0;
    for (ZoneArea& z : zones_) z.assign(ranges_, 0, 0);
    for (uint8_t& n : fallback_count_) n = 0;  // so every allocation fails cleanly
    for (uint8_t& z : first_zone_) z = 0;
    cpus_ = closed_caches_;
    remote_ = nullptr;
    return status;
  }
  fill_lookup(lookup0_, range_count_, range_count_, 0);  // every range is published (no reader yet)
  populate(map);
  initialised_ = true;
  set_fast_paths(peek(fail_at_) == 0);
  return PF_OK;
}

// Managed memory's virtual addresses, [first + offset, top + offset) mod
// 2^64, must neither wrap past 2^64 nor include 0 (a frame there would be a
// null pointer, and the lookups compare addresses as unsigned numbers). An
// offset that makes them wrap would have pf_init write its metadata at
// addresses nobody mapped for it; refused (PF_ERR_BAD_CONFIG) before
// anything is written. An offset below the physical addresses (virtual =
// phys - X, X <= the first managed byte) stays allowed: modular sums.
// A hot-add asks the same of the grown span.
bool PageAllocator::direct_map_fits(uint64_t end_frame) const {
  const uint64_t first = ranges_[0].base << kPageShift;
  const uint64_t last = (end_frame << kPageShift) - 1;  // last managed byte
  const uint64_t v_first = first + phys_.offset, v_last = last + phys_.offset;  // mod 2^64
  return v_first != 0 && v_first <= v_last;
}

// The one place ranges are cut: at the zone limits and at every multiple of
// 2^kRangeChunkShift frames (zone.hpp).
static uint64_t next_range_cut(uint64_t lo, uint64_t hi) {
  return min_u64(min_u64(hi, zone_end_pfn(lo)), (lo | (kRangeChunkFrames - 1)) + 1);
}

uint32_t PageAllocator::ranges_needed(uint64_t lo, uint64_t hi) {
  uint32_t n = 0;
  for (; lo < hi; lo = next_range_cut(lo, hi)) ++n;
  return n;
}

bool PageAllocator::append_ranges(uint64_t lo, uint64_t hi, uint32_t* count) {
  if (ranges_needed(lo, hi) > kMaxRanges - *count) return false;
  while (lo < hi) {
    const uint64_t cut = next_range_cut(lo, hi);
    // Every field but base, which stays kUnpublishedBase until
    // publish_ranges (a lock-free reader may be looking at it).
    Range& r = ranges_[*count];
    r.end = cut;
    r.desc = nullptr;
    r.nonempty = 0;
    r.zone = zone_for(lo);
    for (uint32_t& h : r.head) h = kNoLink;
    // Relaxed: a hot-add writes this slot while lock-free readers may look
    // at it (it was ~0; either value sends them the right way).
    detail::store_relaxed(range_end_[(*count)++], cut);
    lo = cut;
  }
  return true;
}

void PageAllocator::publish_ranges(uint32_t first, uint32_t count, uint64_t lo) {
  // Backwards, so slot_base still reads ends only (bases are not needed).
  for (uint32_t i = count; i-- > first;) detail::store_release(ranges_[i].base, slot_base(i, first, lo));
}

uint64_t PageAllocator::lookup_base(uint32_t i, uint32_t first_new, uint64_t new_lo) const {
  return i < first_new ? ranges_[i].base : slot_base(i, first_new, new_lo);
}

uintptr_t PageAllocator::direct_entry(const Range& r, uint64_t base) {
  return reinterpret_cast<uintptr_t>(r.desc) - base * sizeof(FrameDescriptor) + kDirectTag;
}

void PageAllocator::fill_lookup(RangeLookup& t, uint32_t count, uint32_t first_new, uint64_t new_lo) const {
  // The smallest chunk size that covers the last range's end with
  // kChunkSlots chunks.
  const uint64_t last = ranges_[count - 1].end - 1;
  unsigned shift = 0;
  while ((last >> shift) >= kChunkSlots) ++shift;
  t.shift = static_cast<uint8_t>(shift);
  t.addr_shift = static_cast<uint8_t>(shift + kPageShift);
  // The main range (RangeLookup): the largest of the highest zone with
  // memory, where GFP_KERNEL's pages (and so most slabs) come from first.
  uint32_t main = count;
  for (uint32_t i = 0; i < count; ++i) {
    const uint64_t frames = range_end_[i] - lookup_base(i, first_new, new_lo);
    if (main == count || ranges_[i].zone > ranges_[main].zone ||
        (ranges_[i].zone == ranges_[main].zone && frames > range_end_[main] - lookup_base(main, first_new, new_lo)))
      main = i;
  }
  if (main < count) {
    const Range& m = ranges_[main];
    t.main_base = lookup_base(main, first_new, new_lo);
    t.main_frames = range_end_[main] - t.main_base;
    t.main_phys = t.main_base << kPageShift;
    t.main_bytes = t.main_frames << kPageShift;
    t.main_virt = t.main_phys + phys_.offset;
    t.main_desc = m.desc;
    t.main_row = static_cast<uint8_t>((static_cast<unsigned>(m.zone) + 1) * kStackRowBytes);
  }
  uint32_t first = 0;
  for (uint64_t c = 0; c < kChunkSlots; ++c) {
    const uint64_t lo = c << shift, hi = (c + 1) << shift;
    while (first < count && range_end_[first] <= lo) ++first;
    t.first[c] = static_cast<uint16_t>(first);
    // Direct: the whole chunk inside range `first` (the one ending above lo).
    const bool inside = first < count && lookup_base(first, first_new, new_lo) <= lo && range_end_[first] >= hi;
    t.direct[c] = inside ? direct_entry(ranges_[first], lookup_base(first, first_new, new_lo)) : kMixedChunk;
    t.row[c] = inside ? static_cast<uint8_t>((static_cast<unsigned>(ranges_[first].zone) + 1) * kStackRowBytes) : 0;
    // One edge inside the chunk: each side inside one range or none.
    uint64_t at = 0;
    uintptr_t below = kMixedChunk, above = kMixedChunk;
    if (!inside && first < count) {
      const uint64_t base = lookup_base(first, first_new, new_lo), end = range_end_[first];
      if (base <= lo) {  // range `first` holds [lo, end), end < hi
        const bool next = first + 1 < count;
        const uint64_t next_base = next ? lookup_base(first + 1, first_new, new_lo) : ~uint64_t{0};
        if (next_base >= hi) {  // nothing else in the chunk
          at = end;
          below = direct_entry(ranges_[first], base);
        } else if (next_base == end && range_end_[first + 1] >= hi) {  // the next one holds the rest
          at = end;
          below = direct_entry(ranges_[first], base);
          above = direct_entry(ranges_[first + 1], next_base);
        }
      } else if (base < hi && end >= hi) {  // nothing below base, range `first` from there on
        at = base;
        above = direct_entry(ranges_[first], base);
      }
    }
    t.split_at[c] = at;
    t.split_lo[c] = below;
    t.split_hi[c] = above;
  }
}

// Lock-free readers: alloc_pages' fast path reads first_zone_ inside its
// CPU gate (a hot-add that calls this stops every gate first); the slow
// paths read fallback_ with relaxed loads and may see a mix of the old and
// the new lists, each a valid order to try zones in.
void PageAllocator::build_routes() {
  for (unsigned limit = 0; limit < kZoneCount; ++limit) {
    uint8_t n = 0;
    for (unsigned z = limit + 1; z-- > 0;)
      if (!zones_[z].empty()) detail::store_relaxed(fallback_[limit][n++], static_cast<uint8_t>(z));
    detail::store_relaxed(fallback_count_[limit], n);
  }
  for (gfp_t f = 0; f <= kZoneFlags; ++f) {
    const unsigned limit = (f & __GFP_DMA) ? 0u : (f & __GFP_DMA32) ? 1u : 2u;
    const bool any = fallback_count_[limit] > 0;
    const bool allowed = any && (!(f & __GFP_THISZONE) || fallback_[limit][0] == limit);
    detail::store_relaxed(first_zone_[f], static_cast<uint8_t>((allowed ? fallback_[limit][0] : limit) + 1));
  }
}

int PageAllocator::build_ranges(const MemoryMap& map) {
  range_count_ = 0;
  range_end_ = no_ends();
  const std::span<const MapEntry> entries = map.entries();
  uint64_t usable = 0;
  for (size_t i = 0; i < entries.size();) {
    if (!is_managed(entries[i].type)) {
      ++i;
      continue;
    }
    // Adjacent managed entries (Usable next to a reclaimable class) share
    // one range, so reclaimed frames can merge with their usable neighbours.
    uint64_t lo = entries[i].first_pfn().value, hi = entries[i].end_pfn().value;
    size_t j = i;
    for (; j < entries.size() && is_managed(entries[j].type) &&
           (j == i || entries[j].first_pfn().value == hi);
         ++j) {
      hi = entries[j].end_pfn().value;
      if (entries[j].type == RegionType::Usable) usable += entries[j].frames();
    }
    i = j;
    if (lo == 0) lo = 1;  // frame 0 is the null address, never managed
    // The hot-added slots are not pf_init's to fill.
    const uint32_t first = range_count_;
    if (ranges_needed(lo, hi) > kMaxInitRanges - range_count_ || !append_ranges(lo, hi, &range_count_))
      return PF_ERR_MAP_CAPACITY;
    publish_ranges(first, range_count_, lo);  // no reader exists yet
  }
  if (range_count_ == 0 || usable == 0) return PF_ERR_NO_USABLE_MEMORY;
  // lookup0_ is filled once the descriptors are placed (init).

  // What a hot-add must stay clear of: the non-managed entries above the top.
  const uint64_t top = ranges_[range_count_ - 1].end;
  known_count_ = 0;
  auto know = [&](uint64_t first, uint64_t end) {  // frames
    if (end <= top) return;
    const KnownSpan k{max_u64(top, first), end};
    if (known_count_ < kKnownSpans) {
      known_[known_count_++] = k;
      return;
    }
    KnownSpan& last = known_[kKnownSpans - 1];  // grows to cover it (the reserved ranges are unsorted)
    last = {min_u64(last.base, k.base), max_u64(last.end, k.end)};
  };
  for (const MapEntry& e : entries)
    if (!is_managed(e.type)) know(e.first_pfn().value, e.end_pfn().value);
  // pf_init's reserved ranges (kernel image, boot data, modules) that lie in
  // a hole of the firmware map are no map entry (normalise keeps a hole a
  // hole), yet a hot-add over them must be refused as over a reserved entry
  // (it used to hand their frames out). Widened outward to frames, as
  // normalise widens them; reserve() clipped them below the limit.
  for (const Region& r : map.reserved())
    know(r.base >> kPageShift, (r.base + r.length + kPageSize - 1) >> kPageShift);

  for (unsigned z = 0; z < kZoneCount; ++z) {
    uint32_t first = 0;
    while (first < range_count_ && static_cast<unsigned>(ranges_[first].zone) < z) ++first;
    uint32_t end = first;
    while (end < range_count_ && static_cast<unsigned>(ranges_[end].zone) == z) ++end;
    zones_[z].assign(ranges_, first, end);
  }
  build_routes();
  return PF_OK;
}

int PageAllocator::place_metadata(const MemoryMap& map, const PageAllocatorConfig& config) {
  bootmem_.reset(map, config.bootmem_limit);
  // Every range's descriptor array in one bootmem span, in range order, when
  // one fits (where bootmem puts memory nobody prefers: Normal first, lowest
  // address), so populate() clears them all with one memset. A large clear
  // streams past the caches; one clear per range does not once the arrays
  // are smaller than the last-level cache (32 MiB on the bench machine): a
  // 256 GiB E820-like map has 32 MiB arrays (8 GiB ranges) and cleared them
  // ~1.3x slower one by one than in one call, 16 MiB pieces 2x. Else each
  // array goes in its own range unless that is DMA memory (bootmem's policy).
  uint64_t all_frames = 0;
  for (uint32_t i = 0; i < range_count_; ++i) all_frames += descriptor_frames(ranges_[i]);
  uint64_t next = bootmem_.alloc(all_frames, BootMem::Span{});
  descriptor_bytes_ = 0;
  for (uint32_t i = 0; i < range_count_; ++i) {
    Range& r = ranges_[i];
    const uint64_t frames = descriptor_frames(r);
    const uint64_t at = next != 0 ? next : bootmem_.alloc(frames, BootMem::Span{r.base, r.end - r.base});
    if (at == 0) return PF_ERR_NO_ROOM_FOR_DESCRIPTORS;
    if (next != 0) next += frames;
    r.desc = phys_.to_virt<FrameDescriptor>(pf::to_phys(Pfn{at}));
    descriptor_bytes_ += frames << kPageShift;
  }

  // Per-CPU caches: kCpuIdBound CpuCache records (68 * 256 bytes, 17 KiB:
  // one for every value cpu_id() can take, so the fast paths index them
  // untested), the remote queues, then the slot arrays of every populated
  // zone for the cpu_count_ + 1 caches in use (the last is the shared one),
  // in one bootmem span. The records from cpu_count_ + 1 on stay closed
  // with empty stacks and no slots.
  const unsigned caches = cpu_count_ + 1;
  uint64_t slots_per_zone = 0;
  for (uint32_t h : kPcpHigh) slots_per_zone += h;
  unsigned populated = 0;
  for (const ZoneArea& z : zones_) populated += !z.empty();
  const uint64_t bytes = kCpuIdBound * sizeof(CpuCache) + cpu_count_ * sizeof(RemoteQueue) +
                         uint64_t{caches} * populated * slots_per_zone * sizeof(PcpSlot);
  const uint64_t at = bootmem_.alloc((bytes + kPageSize - 1) >> kPageShift, BootMem::Span{});
  if (at == 0) return PF_ERR_NO_ROOM_FOR_DESCRIPTORS;
  std::byte* mem = phys_.to_virt(pf::to_phys(Pfn{at}));
  cpus_ = reinterpret_cast<CpuCache*>(mem);
  remote_ = reinterpret_cast<RemoteQueue*>(mem + kCpuIdBound * sizeof(CpuCache));
  for (unsigned c = 0; c < cpu_count_; ++c) new (&remote_[c]) RemoteQueue;
  auto* slot = reinterpret_cast<PcpSlot*>(mem + kCpuIdBound * sizeof(CpuCache) + cpu_count_ * sizeof(RemoteQueue));
  for (unsigned c = 0; c < kCpuIdBound; ++c) new (&cpus_[c]) CpuCache;  // closed until set_fast_paths
  for (unsigned c = 0; c < caches; ++c) {
    CpuCache* cache = &cpus_[c];
    for (unsigned z = 0; z < kZoneCount; ++z) {
      if (zones_[z].empty()) continue;
      for (unsigned k = 0; k < kPcpOrders; ++k) {
        cache->stacks[z][k].slots = slot;
        slot += kPcpHigh[k];
      }
    }
  }
  return PF_OK;
}

void PageAllocator::mark_reserved(Range& r, uint64_t from, uint64_t to, uint32_t why) {
  for (uint64_t p = from; p < to; ++p) {
    FrameDescriptor& d = r.desc[p - r.base];
    d.owner = why;
    d.order = 0;
    set_frame_state(d, FrameState::Reserved);
  }
  zone_of(r).add_reserved(to - from);
}

void PageAllocator::free_span_at_init(Range& r, uint64_t from, uint64_t to) {
  // Maximal aligned blocks straight onto the lists: no two of them are
  // buddies (see for_each_aligned_block) and the span is bounded by
  // reserved frames or the range's edge, so nothing would merge anyway.
  ZoneArea& z = zone_of(r);
  detail::for_each_aligned_block(from, to, [&](uint64_t p, unsigned k) { z.push(r, Pfn{p}, Order{k}); });
  z.add_managed(to - from);
}

void PageAllocator::populate(const MemoryMap& map) {
  // The descriptor arrays (whole frames each), adjacent ones with one memset
  // (place_metadata puts them all in one span when it can: see there why).
  for (uint32_t i = 0; i < range_count_;) {
    auto* const from = reinterpret_cast<std::byte*>(ranges_[i].desc);
    std::byte* to = from + (descriptor_frames(ranges_[i]) << kPageShift);
    for (++i; i < range_count_ && reinterpret_cast<std::byte*>(ranges_[i].desc) == to; ++i)
      to += descriptor_frames(ranges_[i]) << kPageShift;
    __builtin_memset(from, 0, static_cast<size_t>(to - from));
  }
  const std::span<const BootMem::Span> taken = bootmem_.taken();
  uint32_t ri = 0;
  for (const MapEntry& e : map.entries()) {
    if (!is_managed(e.type)) continue;
    const uint64_t elo = e.first_pfn().value, ehi = e.end_pfn().value;
    while (ri < range_count_ && ranges_[ri].end <= elo) ++ri;
    for (uint32_t j = ri; j < range_count_ && ranges_[j].base < ehi; ++j) {
      Range& r = ranges_[j];
      const uint64_t lo = max_u64(elo, r.base), hi = min_u64(ehi, r.end);
      if (lo >= hi) continue;
      if (const uint32_t why = reclaim_reason(e.type); why != kNotReclaimable) {
        mark_reserved(r, lo, hi, why);
        continue;
      }
      // Usable: free everything bootmem did not take.
      uint64_t p = lo;
      for (const BootMem::Span& t : taken) {
        if (t.end() <= p || t.base >= hi) continue;
        if (t.base > p) free_span_at_init(r, p, t.base);
        const uint64_t tend = min_u64(t.end(), hi);
        mark_reserved(r, max_u64(p, t.base), tend, kReservedByBootmem);
        p = tend;
      }
      if (p < hi) free_span_at_init(r, p, hi);
    }
  }
}

PageAllocator::RangeInfo PageAllocator::range_info(size_t i) const {
  if (i >= detail::load_acquire(range_count_)) return RangeInfo{};
  const Range& r = ranges_[i];
  const uint64_t bytes = (r.end - r.base) * sizeof(FrameDescriptor);
  return RangeInfo{.base = pf::to_phys(Pfn{r.base}),
                   .end = pf::to_phys(Pfn{r.end}),
                   .zone = r.zone,
                   .descriptors = phys_.to_phys(r.desc),
                   .descriptor_bytes = (bytes + kPageSize - 1) & ~(kPageSize - 1)};
}

// ---- lookup ----------------------------------------------------------------


// ---- alloc_pages / free_pages: the slow paths ------------------------------------

void report_bad_gfp(gfp_t flags, const char* call, const void* caller) {
  char detail[128];
  TextBuffer t(detail, sizeof detail);
  t.str(call);
  if (flags & kGfpUnknown)
    t.str(": gfp bits ").hex(flags & kGfpUnknown).str(" are no __GFP_* flag");
  else
    t.str(": __GFP_DMA and __GFP_DMA32 together (two zone limits)");
  t.str(" (flags ").hex(flags).str("), refused");
  report({.code = ErrorCode::GfpInvalid, .detail = t.c_str(), .caller = caller});
}

bool PageAllocator::fail_injected() {
  const uint64_t at = peek(fail_at_);
  if (at == 0) return false;
  return fail_calls_.fetch_add(1, std::memory_order_relaxed) + 1 >= at;
}

void PageAllocator::set_fail_after(uint64_t n) {
  fail_calls_.store(0, std::memory_order_relaxed);
  fail_at_.store(n, std::memory_order_relaxed);
  if (initialised_) set_fast_paths(n == 0);  // before init every gate is closed anyway
}

void PageAllocator::set_fast_paths(bool on) {
  const unsigned open = on ? cpu_count_ : 0;
  fast_cpus_.store(open, std::memory_order_relaxed);
  for (unsigned i = 0; i < kCpuIdBound; ++i) {
    LockGuard g(cpus_[i].gate.lock());
    cpus_[i].gate.set_closed_locked(i >= open);
  }
}

PhysAddr PageAllocator::alloc_uncached(Zone z, Order order) {
  ZoneArea& zs = zone(z);
  LockGuard guard(zs.lock());
  const ZoneArea::Block b = zs.take(order, FrameState::Allocated);
  return b.range != nullptr ? pf::to_phys(b.pfn) : PhysAddr{};
}

PhysAddr PageAllocator::alloc_in_zones(Order order, gfp_t flags, bool use_cache) {
  const unsigned limit = (flags & __GFP_DMA) ? 0u : (flags & __GFP_DMA32) ? 1u : 2u;
  // The routes change only when a hot-add opens a zone; a read racing
  // with that sees the old or the new list (either is a valid order).
  const uint8_t* zones = fallback_[limit];
  unsigned count = detail::load_relaxed(fallback_count_[limit]);
  // __GFP_THISZONE: the limit's own zone or nothing.
  if (flags & __GFP_THISZONE) count = (count > 0 && detail::load_relaxed(zones[0]) == limit) ? 1 : 0;
  for (unsigned i = 0; i < count; ++i) {
    const auto z = static_cast<Zone>(detail::load_relaxed(zones[i]));
    const PhysAddr p = (use_cache && order.value < kPcpOrders) ? alloc_cached(z, order) : alloc_uncached(z, order);
    if (!p.is_null()) return p;
  }
  return PhysAddr{};
}

// Everything alloc_pages' fast path (page_pcp.cpp) does not handle: large
// orders, an empty cache, fallback to lower zones, fault injection, bad
// orders, and the last resort of draining every CPU's cache (skipped for
// __GFP_NORETRY).
PhysAddr PageAllocator::alloc_slow(Order order, gfp_t flags, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;  // the code the fast path was inlined into
  if (__builtin_expect(!gfp_valid(flags), 0)) {
    report_bad_gfp(flags, "alloc_pages", caller);
    return PhysAddr{};
  }
  if (!order.valid()) {
    // A request no block can satisfy is out of memory, not misuse (as in
    // Linux): a null result, warned unless the caller said __GFP_NOWARN.
    if (!(flags & __GFP_NOWARN))
      warn(ErrorCode::PageBadOrder,
           "alloc_pages: order above kMaxOrder (shown as [order, order + 1)), null result",
           order.value, order.value + 1u);
    return PhysAddr{};
  }
  const bool injected = fail_injected();
  PhysAddr p;
  if (!injected) {
    p = alloc_in_zones(order, flags, true);
    if (p.is_null() && !(flags & __GFP_NORETRY)) {
      // Before saying no, take back what the CPUs' caches hold: their
      // blocks may be all that is left, or what keeps buddies from merging.
      // (__GFP_NORETRY: the caller has a cheaper fallback, e.g. a smaller
      // slab order, and would rather take it.)
      drain_cpu_caches();
      p = alloc_in_zones(order, flags, false);
    }
  }
  if (p.is_null()) {
    if (!(flags & __GFP_NOWARN)) {
      LogLine line;
      line->str("pfalloc: alloc_pages: no block of order ").dec(order.value).str(" (flags ")
          .hex(flags).str(injected ? ", fault injected)" : ")").nl();
    }
    return p;
  }
  if (flags & __GFP_ZERO) __builtin_memset(phys_.to_virt<void>(p), 0, order.bytes());
  return p;
}

// Every free the local fast path does not take comes here from free_pages:
// orders above the caches, blocks with no home CPU or another one, a full
// stack, a busy gate, and every misuse.
void PageAllocator::free_slow(PhysAddr phys, Order order, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  const uint64_t pfn = phys.value >> kPageShift;
  Range* r = find_range(pfn);
  if (r != nullptr && order.valid() && phys.page_aligned() && block_aligned(Pfn{pfn}, order)) {
    FrameDescriptor& d = r->desc[pfn - r->base];
    if (freeable(d, order.value) && free_claimed(*r, Pfn{pfn}, d, order)) return;
  }
  // Refused, or another free won the block meanwhile: name what it is now.
  diagnose_bad_free(r, phys, order, caller);
}

// The three ways a block leaves Allocated here (see "Frees on two CPUs" at
// the top of this file). `d` looked freeable; false if another free won it.
bool PageAllocator::free_claimed(Range& r, Pfn pfn, FrameDescriptor& d, Order order) {
  const unsigned me = this_cpu();
  const unsigned home = static_cast<unsigned>(home_of(d)) - 1u;  // ~0 for none
  if (order.value >= kPcpOrders) {
    // Never cached, never homed: the claim and the give under the zone lock.
    ZoneArea& z = zone_of(r);
    LockGuard guard(z.lock());
    if (!claim_frame_state(d, FrameState::Allocated, FrameState::Free)) return false;
    z.give(r, pfn, order);
    return true;
  }
  if (home < cpu_count_ && home != me) return free_remote(home, r, pfn, d);
  auto held = hold(me);
  if (home == me) {
    // Our own block (the fast path could not take it): plain, as there;
    // checked again now that our data is held.
    if (!freeable(d, order.value)) return false;
  } else if (!claim_frame_state(d, FrameState::Allocated, FrameState::Cached)) {
    return false;  // no home: any CPU may free it, so always the claim
  }
  push_cached(cpus_[me], r, pfn, d, order);
  return true;
}

// A block whose home is another CPU: claim it (Allocated -> RemoteFreed)
// and leave a token on the home CPU's queue, both under the queue's lock
// (so whoever holds every queue lock sees a token for every RemoteFreed
// block). A full queue is collected first, stopping the home CPU.
bool PageAllocator::free_remote(unsigned home, Range& r, Pfn pfn, FrameDescriptor& d) {
  RemoteQueue& q = remote_[home];
  for (;;) {
    {
      LockGuard guard(q.lock);
      if (q.count < kRemoteCap) {
        if (!claim_frame_state(d, FrameState::Allocated, FrameState::RemoteFreed)) return false;
        q.buf[q.fill][q.count++] = token(pfn.value, frame_order(d));
        bump<uint64_t>(q.frames[static_cast<unsigned>(r.zone)], uint64_t{1} << frame_order(d));
        return true;
      }
    }
    collect_cpu(home);
  }
}

void PageAllocator::report_bad_free(ErrorCode code, const char* detail, uint64_t phys,
                                    uint64_t pfn, const void* caller) const {
  report({.code = code, .detail = detail, .address = phys, .pfn = pfn, .caller = caller});
}

// The error path of free_pages: name what is wrong. Nothing is changed.
void PageAllocator::diagnose_bad_free(Range* r, PhysAddr phys, Order order,
                                      const void* caller) const {
  const uint64_t pfn = phys.value >> kPageShift;
  if (!order.valid())
    return report_bad_free(ErrorCode::PageBadOrder, "free_pages: order above kMaxOrder",
                           phys.value, pfn, caller);
  if (r == nullptr)
    return report_bad_free(ErrorCode::PageOutsideManaged,
                           "free_pages: frame is not managed by this allocator", phys.value, pfn,
                           caller);
  if (!phys.page_aligned() || !block_aligned(Pfn{pfn}, order))
    return report_bad_free(ErrorCode::PageMisaligned,
                           "free_pages: address is not aligned to the block size of the order",
                           phys.value, pfn, caller);
  const FrameDescriptor& d = r->desc[pfn - r->base];
  switch (frame_state(d)) {
    case FrameState::Free:
      return report_bad_free(ErrorCode::PageDoubleFree, "free_pages: block is already free",
                             phys.value, pfn, caller);
    case FrameState::Cached:
      return report_bad_free(ErrorCode::PageDoubleFree,
                             "free_pages: block is already free (in a per-CPU cache)", phys.value,
                             pfn, caller);
    case FrameState::RemoteFreed:
      return report_bad_free(ErrorCode::PageDoubleFree,
                             "free_pages: block is already free (freed on another CPU, on its way "
                             "back to its home CPU)",
                             phys.value, pfn, caller);
    case FrameState::Reserved:
      return report_bad_free(ErrorCode::PageReserved,
                             "free_pages: frame is reserved (never handed out)", phys.value, pfn,
                             caller);
    case FrameState::Tail: {
      // Find the block that holds this frame: its head is the first non-Tail
      // descriptor at the frame rounded down to growing orders.
      for (unsigned k = 1; k <= kMaxOrder; ++k) {
        const uint64_t h = pfn & ~((uint64_t{1} << k) - 1);
        if (h < r->base) break;
        const FrameDescriptor& hd = r->desc[h - r->base];
        const FrameState hs = frame_state(hd);
        if (hs == FrameState::Tail) continue;
        if (h + (uint64_t{1} << frame_order(hd)) > pfn &&
            (hs == FrameState::Free || hs == FrameState::Cached || hs == FrameState::RemoteFreed))
          return report_bad_free(ErrorCode::PageDoubleFree,
                                 "free_pages: frame lies inside a free block", phys.value, pfn,
                                 caller);
        break;
      }
      return report_bad_free(ErrorCode::PageTailFrame,
                             "free_pages: frame is inside a block, not its first frame",
                             phys.value, pfn, caller);
    }
    case FrameState::Slab:
      return report_bad_free(ErrorCode::PageInSlab,
                             "free_pages: block is a slab; its objects belong to a kmem_cache",
                             phys.value, pfn, caller);
    case FrameState::Allocated:
      if (frame_owner(d) == kOwnerContig)
        return report_bad_free(ErrorCode::ContigBadFree,
                               "free_pages: block belongs to alloc_contig; use free_contig",
                               phys.value, pfn, caller);
      if (frame_owner(d) == kOwnerKmallocLarge)
        return report_bad_free(ErrorCode::PageInKmallocLarge,
                               "free_pages: block is a large kmalloc object; use kfree",
                               phys.value, pfn, caller);
      if (frame_owner(d) == kOwnerSlabMeta)
        return report_bad_free(ErrorCode::PageSlabMetadata,
                               "free_pages: block holds a kmem_cache's per-CPU arrays",
                               phys.value, pfn, caller);
      return report_bad_free(ErrorCode::PageWrongOrder,
                             "free_pages: order differs from the order the block was allocated at",
                             phys.value, pfn, caller);
  }
  report_bad_free(ErrorCode::VerifyFailed, "free_pages: descriptor has an invalid state",
                  phys.value, pfn, caller);
}

// ---- release_reserved ------------------------------------------------------

uint64_t PageAllocator::release_run(Range& r, uint64_t from, uint64_t to) {
  if (from >= to) return 0;
  for (uint64_t p = from; p < to; ++p) detail::clear_to_tail(r.desc[p - r.base]);
  ZoneArea& z = zone_of(r);
  z.reserved_to_managed(to - from);
  detail::for_each_aligned_block(from, to, [&](uint64_t p, unsigned k) { z.give(r, Pfn{p}, Order{k}); });
  return to - from;
}

uint64_t PageAllocator::release_reserved(PhysAddr base, uint64_t frames) {
  const void* caller = PF_CALLER;
  if (!base.page_aligned()) {
    report({.code = ErrorCode::InvalidArgument, .detail = "release_reserved: base is not page aligned",
            .address = base.value, .caller = caller});
    return 0;
  }
  uint64_t pfn = base.value >> kPageShift;
  const uint64_t end = frames > ~uint64_t{0} - pfn ? ~uint64_t{0} : pfn + frames;
  uint64_t released = 0, refused = 0, first_refused = 0;
  auto refuse = [&](uint64_t p, uint64_t n) {
    if (refused == 0) first_refused = p;
    refused += n;
  };
  while (pfn < end) {
    Range* r = find_range(pfn);
    if (r == nullptr) {
      // Skip the hole up to the next range (or the end of the request).
      uint64_t next = end;
      for (uint32_t i = 0; i < detail::load_acquire(range_count_); ++i)
        if (ranges_[i].base > pfn) {
          next = min_u64(end, ranges_[i].base);
          break;
        }
      refuse(pfn, next - pfn);
      pfn = next;
      continue;
    }
    const uint64_t stop = min_u64(end, r->end);
    LockGuard guard(zone_of(*r).lock());
    uint64_t run = pfn;  // start of the current run of reclaimable frames
    for (uint64_t p = pfn; p < stop; ++p) {
      const FrameDescriptor& d = r->desc[p - r->base];
      if (frame_state(d) == FrameState::Reserved && d.owner == kReservedBootloaderReclaimable) continue;
      released += release_run(*r, run, p);
      refuse(p, 1);
      run = p + 1;
    }
    released += release_run(*r, run, stop);
    pfn = stop;
  }
  if (refused != 0)
    report({.code = ErrorCode::InvalidArgument,
            .detail = "release_reserved: frames that are not bootloader-reclaimable were left alone",
            .address = first_refused << kPageShift, .pfn = first_refused, .caller = caller});
  return released;
}

uint64_t PageAllocator::release_reserved(RegionType type) {
  const uint32_t why = reclaim_reason(type);
  if (why == kNotReclaimable) {
    report({.code = ErrorCode::InvalidArgument,
            .detail = "release_reserved: only bootloader-reclaimable and acpi-reclaimable memory can "
                      "be handed back, not this region type",
            .caller = PF_CALLER});
    return 0;
  }
  uint64_t released = 0;
  for (uint32_t i = 0; i < detail::load_acquire(range_count_); ++i) {
    Range& r = ranges_[i];
    // A chunk at a time, so the zone lock is never held for a whole large range.
    for (uint64_t chunk = r.base; chunk < r.end; chunk += kReleaseChunkFrames) {
      const uint64_t stop = min_u64(r.end, chunk + kReleaseChunkFrames);
      LockGuard guard(zone_of(r).lock());
      uint64_t run = stop;  // start of the current run of frames of this class
      for (uint64_t p = chunk; p < stop; ++p) {
        const FrameDescriptor& d = r.desc[p - r.base];
        const bool match = frame_state(d) == FrameState::Reserved && d.owner == why;
        if (match && run == stop) run = p;
        if (!match && run != stop) {
          released += release_run(r, run, p);
          run = stop;
        }
      }
      released += release_run(r, run, stop);
    }
  }
  return released;
}

uint64_t PageAllocator::reserved_frames(uint32_t reason) const {
  uint64_t n = 0;
  for (uint32_t i = 0; i < detail::load_acquire(range_count_); ++i) {
    const Range& r = ranges_[i];
    LockGuard guard(zone(r.zone).lock());
    for (uint64_t p = r.base; p < r.end; ++p) {
      const FrameDescriptor& d = r.desc[p - r.base];
      n += frame_state(d) == FrameState::Reserved && d.owner == reason;
    }
  }
  return n;
}

// ---- counters ----------------------------------------------------------------

PageCounters PageAllocator::zone_counters(Zone zone) const {
  const auto zi = static_cast<unsigned>(zone);
  const ZoneArea& z = zones_[zi];
  PageCounters c;
  c.managed_frames = z.managed();
  c.reserved_frames = z.reserved();
  if (initialised_ && !z.empty()) {
    for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu)
      for (unsigned k = 0; k < kPcpOrders; ++k)
        c.cached_frames += uint64_t{cpus_[cpu].stacks[zi][k].size()} << k;
  }
  if (remote_ != nullptr)
    for (unsigned cpu = 0; cpu < cpu_count_; ++cpu)
      c.cached_frames += peek(remote_[cpu].frames[zi]) + peek(remote_[cpu].collecting[zi]);
  c.free_frames = z.free_buddy() + c.cached_frames;
  return c;
}

PageCounters PageAllocator::counters() const {
  PageCounters total;
  for (unsigned z = 0; z < kZoneCount; ++z) {
    const PageCounters c = zone_counters(static_cast<Zone>(z));
    total.managed_frames += c.managed_frames;
    total.free_frames += c.free_frames;
    total.cached_frames += c.cached_frames;
    total.reserved_frames += c.reserved_frames;
  }
  return total;
}

uint64_t PageAllocator::free_blocks(Zone z, Order o) const {
  if (static_cast<unsigned>(z) >= kZoneCount || !o.valid()) return 0;
  return zone(z).blocks(o);
}

int PageAllocator::largest_free_order() const {
  for (int k = kMaxOrder; k >= 0; --k)
    for (const ZoneArea& z : zones_)
      if (z.blocks(Order{static_cast<unsigned>(k)}) != 0) return k;
  return -1;
}

}  // namespace pf
