// page_hotplug.cpp — memory hot-add to a running page allocator
// (PageAllocator::add_memory, pf_add_memory) and the allocator's share of
// fork support (fork_prepare / fork_release).
//
// Hot-add of frames [lo, hi):
//   1. checks, with nothing written: initialised, page-aligned, non-empty,
//      below 2^kPhysAddrBits, direct-map addresses that do not wrap, no
//      overlap with a managed range, a non-usable entry of the init map or
//      a range init was given as reserved, not in a hole below the top of
//      managed memory (the range table is append-only and sorted, see
//      page_alloc.hpp), a free slot per piece (the range is cut at the zone
//      limits and every 2^kRangeChunkShift frames, by the same
//      append_ranges() pf_init uses), room for its metadata plus one frame;
//   2. the metadata, in the range's own first frames and nowhere else:
//        [lo, lo + M): descriptors of every frame of [lo, hi) (16 bytes each),
//                      a RangeLookup (35 KiB, 64-byte aligned), and, for each
//                      zone this range opens, every CPU's cache slots;
//      nothing else of the range is touched (in the hosted build the frames
//      past the metadata stay untouched MAP_NORESERVE memory);
//   3. the new slots of ranges_/range_end_ (readers ignore them: their index
//      is >= range_count_), the new lookup filled for the grown table;
//   4. under the zone locks of the zones it touches (in zone order):
//      range_count_ and lookup_ published (release), the zones' slices
//      grown, the metadata frames marked Reserved (kReservedHotplugMeta)
//      and every other frame pushed onto the free lists as maximal aligned
//      blocks (free_span_at_init, as pf_init does), counters updated; the
//      zone routes rebuilt if a zone was opened. verify() holds every zone
//      lock, so it sees a hot-add either not at all or whole.
// Equations it keeps (verify()): managed + reserved == frames in the zone's
// ranges; Reserved(kReservedHotplugMeta) == hotplug_meta_frames(); a
// hot-add adds (hi - lo) - M free frames and M reserved ones.
//
// Not supported, by design: holes below managed memory (refused by name);
// blocks or alloc_contig runs spanning two added ranges, even adjacent ones
// (each range's metadata sits at its start, and blocks never span ranges).
// The lookups hot-adds replace are never freed (one frame each, inside
// their own ranges): a lock-free reader may still hold one.
//
// Lock order: hotplug_lock_ (outermost; hot-adds are serialised) -> (only
// when a zone opens: every per-CPU gate, owners stopped) -> zone locks in
// zone order. fork_prepare takes hotplug_lock_ -> every per-CPU
// gate (owners stopped) -> every remote queue lock -> every zone lock,
// the documented order.
#include <new>

#include "error.hpp"
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

namespace {
constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }
constexpr uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
constexpr uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }
}  // namespace

struct PageAllocator::HotplugPlan {
  uint32_t pieces = 0;          // ranges the hot-add becomes
  uint32_t new_zones = 0;       // bit z: zone z had no memory before
  uint64_t lookup_offset = 0;   // bytes from the metadata's start
  uint64_t slots_offset = 0;
  uint64_t meta_frames = 0;     // M
  ErrorCode code = ErrorCode::InvalidArgument;
  const char* detail = nullptr;  // nullptr: the plan holds
};

size_t PageAllocator::hotplug_ranges_left() const {
  return kMaxHotplugRanges - detail::load_relaxed(hotplug_ranges_);
}

// Step 1 (hotplug_lock_ held, so the table cannot change under it).
int PageAllocator::plan_hotplug(uint64_t lo, uint64_t hi, HotplugPlan& plan) const {
  const uint32_t count = range_count_;
  const uint64_t top = ranges_[count - 1].end;
  auto refuse = [&](int status, ErrorCode code, const char* detail) {
    plan.code = code;
    plan.detail = detail;
    return status;
  };
  if (lo < top) {
    for (uint32_t i = 0; i < count; ++i)
      if (ranges_[i].base < hi && lo < ranges_[i].end)
        return refuse(PF_ERR_HOTPLUG_OVERLAP, ErrorCode::HotplugOverlap,
                      "add_memory: the range overlaps managed memory");
    return refuse(PF_ERR_HOTPLUG_BELOW_TOP, ErrorCode::HotplugBelowTop,
                  "add_memory: the range lies in a hole below managed memory (hot-added memory "
                  "must lie above every managed range)");
  }
  // Above the top: managed memory grown by it must still have direct-map
  // addresses that neither wrap nor reach 0 (as pf_init checked).
  if (!direct_map_fits(hi))
    return refuse(PF_ERR_HOTPLUG_BEYOND_LIMIT, ErrorCode::HotplugBeyondPhysLimit,
                  "add_memory: the range's direct-map addresses (phys + direct_map_offset) wrap past "
                  "2^64");
  for (unsigned i = 0; i < known_count_; ++i)
    if (known_[i].base < hi && lo < known_[i].end)
      return refuse(PF_ERR_HOTPLUG_OVERLAP, ErrorCode::HotplugOverlap,
                    "add_memory: the range overlaps a non-usable entry of the memory map or a "
                    "range pf_init was given as reserved");
  plan.pieces = ranges_needed(lo, hi);
  if (plan.pieces > kMaxHotplugRanges - hotplug_ranges_)
    return refuse(PF_ERR_HOTPLUG_CAPACITY, ErrorCode::HotplugCapacity,
                  "add_memory: the range table has no slot left for hot-added memory");

  uint64_t opened = 0;  // zones this range opens
  for (auto z = static_cast<unsigned>(zone_for(lo)); z <= static_cast<unsigned>(zone_for(hi - 1)); ++z)
    if (zones_[z].empty()) {
      plan.new_zones |= 1u << z;
      ++opened;
    }
  uint64_t slots_per_zone = 0;
  for (uint32_t h : kPcpHigh) slots_per_zone += h;
  const uint64_t desc_bytes = (hi - lo) * sizeof(FrameDescriptor);
  plan.lookup_offset = align_up(desc_bytes, alignof(RangeLookup) > 64 ? alignof(RangeLookup) : 64);
  plan.slots_offset = align_up(plan.lookup_offset + sizeof(RangeLookup), alignof(PcpSlot));
  const uint64_t slot_bytes = opened * (cpu_count_ + 1) * slots_per_zone * sizeof(PcpSlot);
  plan.meta_frames = (plan.slots_offset + slot_bytes + kPageSize - 1) >> kPageShift;
  if (hi - lo <= plan.meta_frames)
    return refuse(PF_ERR_HOTPLUG_TOO_SMALL, ErrorCode::HotplugTooSmall,
                  "add_memory: the range cannot hold its own metadata plus one frame");
  return PF_OK;
}

int PageAllocator::add_memory(PhysAddr base, uint64_t bytes) {
  const uint64_t end_addr = bytes > ~uint64_t{0} - base.value ? ~uint64_t{0} : base.value + bytes;
  auto refuse = [&](int status, ErrorCode code, const char* detail) {
    warn(code, detail, base.value, end_addr);
    return status;
  };
  if (!initialised_)
    return refuse(PF_ERR_NOT_INITIALISED, ErrorCode::HotplugNotInitialised,
                  "add_memory: the allocator is not initialised");
  if (!base.page_aligned() || (bytes & (kPageSize - 1)) != 0)
    return refuse(PF_ERR_HOTPLUG_MISALIGNED, ErrorCode::HotplugMisaligned,
                  "add_memory: base or size is not a multiple of the page size");
  if (bytes == 0)
    return refuse(PF_ERR_HOTPLUG_TOO_SMALL, ErrorCode::HotplugTooSmall, "add_memory: size 0");
  if (base.value >= kPhysAddrLimit || bytes > kPhysAddrLimit - base.value)
    return refuse(PF_ERR_HOTPLUG_BEYOND_LIMIT, ErrorCode::HotplugBeyondPhysLimit,
                  "add_memory: the range ends above the physical address limit");
  const uint64_t lo = base.value >> kPageShift, hi = end_addr >> kPageShift;

  // Not a LockGuard: a hot-add may memset megabytes of descriptors, and no
  // interrupt handler takes this lock, so interrupts stay on meanwhile.
  hotplug_lock_.lock();
  HotplugPlan plan;
  const int status = plan_hotplug(lo, hi, plan);
  if (status != PF_OK) {
    hotplug_lock_.unlock();
    return refuse(status, plan.code, plan.detail);
  }

  // Step 2: the metadata, inside [lo, lo + M).
  std::byte* meta = phys_.to_virt(pf::to_phys(Pfn{lo}));
  auto* desc = reinterpret_cast<FrameDescriptor*>(meta);
  __builtin_memset(static_cast<void*>(desc), 0, (hi - lo) * sizeof(FrameDescriptor));
  auto* lookup = new (meta + plan.lookup_offset) RangeLookup;
  auto* slot = reinterpret_cast<PcpSlot*>(meta + plan.slots_offset);
  // The zones this range opens get their cache slots now; no CPU touches a
  // stack of an empty zone (no route and no range lead there yet).
  for (unsigned z = 0; z < kZoneCount; ++z) {
    if (!(plan.new_zones & (1u << z))) continue;
    for (unsigned c = 0; c <= cpu_count_; ++c)
      for (unsigned k = 0; k < kPcpOrders; ++k) {
        cpus_[c].stacks[z][k].slots = slot;
        slot += kPcpHigh[k];
      }
  }

  // Step 3: the new slots (unpublished: at or past range_count_).
  const uint32_t first = range_count_;
  uint32_t count = first;
  const bool fits = append_ranges(lo, hi, &count);
  PF_ASSERT(fits && count - first == plan.pieces);
  for (uint32_t i = first; i < count; ++i) ranges_[i].desc = desc + (slot_base(i, first, lo) - lo);
  fill_lookup(*lookup, count, first, lo);

  // Step 4: publish and free, under the touched zones' locks. A hot-add
  // that opens a zone rewrites the zone routes, which alloc_pages' fast path
  // reads as plain data inside its gate: every CPU is stopped meanwhile
  // (gates before zone locks, the documented order; a rare event).
  const unsigned zlo = static_cast<unsigned>(ranges_[first].zone);
  const unsigned zhi = static_cast<unsigned>(ranges_[count - 1].zone);
  const bool stop_cpus = plan.new_zones != 0;
  const unsigned self = platform::cpu_id();
  const unsigned long irq = platform::irq_save();
  if (stop_cpus) hold_all_gates(all_gates(), cpu_count_, self);
  for (unsigned z = zlo; z <= zhi; ++z) zones_[z].lock().lock();
  detail::store_relaxed(hotplug_meta_frames_, hotplug_meta_frames_ + plan.meta_frames);
  detail::store_relaxed(hotplug_ranges_, hotplug_ranges_ + plan.pieces);
  publish_ranges(first, count, lo);
  detail::store_release(range_count_, count);
  detail::store_release(lookup_, static_cast<const RangeLookup*>(lookup));
  const uint64_t meta_end = lo + plan.meta_frames;
  for (uint32_t i = first; i < count; ++i) {
    Range& r = ranges_[i];
    ZoneArea& z = zone_of(r);
    z.assign(ranges_, z.empty() ? i : z.first_range(), i + 1);
    if (r.base < meta_end) mark_reserved(r, r.base, min_u64(r.end, meta_end), kReservedHotplugMeta);
    if (r.end > meta_end) free_span_at_init(r, max_u64(r.base, meta_end), r.end);
  }
  if (plan.new_zones != 0) build_routes();
  for (unsigned z = zhi + 1; z-- > zlo;) zones_[z].lock().unlock();
  if (stop_cpus) release_all_gates(all_gates(), cpu_count_, self);
  platform::irq_restore(irq);
  hotplug_lock_.unlock();
  return PF_OK;
}

// ---- fork -------------------------------------------------------------------

void PageAllocator::fork_prepare() {
  hotplug_lock_.lock();
  fork_irq_ = platform::irq_save();
  fork_self_ = platform::cpu_id();
  if (initialised_) hold_all_gates(all_gates(), cpu_count_, fork_self_);
  if (remote_ != nullptr)
    for (unsigned c = 0; c < cpu_count_; ++c) remote_[c].lock.lock();
  for (const ZoneArea& z : zones_) z.lock().lock();
}

void PageAllocator::fork_release() {
  for (unsigned z = kZoneCount; z-- > 0;) zones_[z].lock().unlock();
  if (remote_ != nullptr)
    for (unsigned c = cpu_count_; c-- > 0;) remote_[c].lock.unlock();
  if (initialised_) release_all_gates(all_gates(), cpu_count_, fork_self_);
  platform::irq_restore(fork_irq_);
  hotplug_lock_.unlock();
}

}  // namespace pf
