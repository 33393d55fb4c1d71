// page_verify.cpp — verify(): a full structural walk of the page allocator.
//
// What it proves, per range and zone (the first violation is reported as
// VerifyFailed, naming the frame, and verify() returns false):
//   free lists: every listed block is Free with the list's order, aligned,
//     inside its range; prev links mirror next links; no cycle; the range's
//     non-empty mask matches its lists;
//   descriptors, walked block by block from each range's first frame: every
//     block head (Free, Cached, Allocated, Slab) is aligned, fits the range,
//     and its other frames are all Tail (so blocks never overlap and Tail
//     frames exist only inside blocks), all zero in a Free or Cached block
//     (the slab layer's carries_slab relies on it); Reserved frames stand alone; no Free
//     block has a Free buddy of the same order (coalescing is complete);
//   per-CPU caches: count <= high-water mark, every slot names a Cached head
//     of the stack's order in the stack's zone, and the Cached heads found in
//     the descriptors are exactly those in the stacks; gate i is closed <=>
//     i >= fast_cpus_ (all kCpuIdBound of them), and the caches past the
//     shared one have empty stacks without slots;
//   remote queues (page_alloc.cpp, "Frees on two CPUs"): count <= kRemoteCap,
//     every token (queued, or pending in the other buffer) names a managed
//     frame, frames[z] == sum over its queued tokens in zone z of 2^order,
//     collecting[z] the same over its pending ones, pend_at <= pend_end <=
//     kRemoteCap; every RemoteFreed head is of an
//     order the caches hold, names a home CPU, and has at least one token
//     on that CPU's queue, queued or pending (stale tokens, a racing double free not yet
//     reported, may name anything);
//   counters: Free descriptors == listed blocks == zone.blocks[k] per order;
//     zone.free_buddy == sum of listed 2^k; zone.reserved == Reserved frames;
//     zone.managed == free (buddy + cached) + allocated frames; zone masks;
//   range table (hot-add, see page_alloc.hpp): sorted and disjoint, each
//     range inside its zone's slice, the published lookup's hints lower
//     bounds that cover the last range, its direct entries exact;
//   fast-path tables: every zone route names a zone (an empty one only
//     where the flags allow none, and an empty zone's stacks are empty);
//     home_words_[c] == frame_word(0, Allocated, 0, home_cpu_tag(c)); Reserved frames for hot-add metadata
//     == hotplug_meta_frames().
// Locks: every CPU's gate in CPU order (the owners stopped, see
// cpu_cache.hpp), every remote queue's lock, then every zone lock in zone
// order (the documented order),
// all held for the whole walk, so verify() is exact even while others run.
#include "error.hpp"
#include "page_alloc.hpp"
#include "page_internal.hpp"

namespace pf {

using detail::peek;

struct PageAllocator::VerifyTally {
  ZoneArea::Tally zone[kZoneCount];                    // what each zone's counters must say
  uint64_t cached_heads[kZoneCount][kPcpOrders] = {};  // Cached descriptors
  uint64_t in_caches[kZoneCount][kPcpOrders] = {};     // blocks in the stacks
  uint64_t hotplug_meta = 0;                           // Reserved for hot-add metadata
};

bool PageAllocator::verify_fail(const char* what, uint64_t pfn) const {
  if (verify_failure_.what == nullptr) verify_failure_ = {what, pfn};
  return false;
}

bool PageAllocator::verify() const {
  if (!initialised_) return true;
  bool ok;
  VerifyFailure fail;
  {
    CpuAccessAll held(all_gates(), cpu_count_);
    for (unsigned c = 0; c < cpu_count_; ++c) remote_[c].lock.lock();
    for (const ZoneArea& z : zones_) z.lock().lock();
    verify_failure_ = {};
    ok = verify_locked();
    fail = verify_failure_;
    for (unsigned z = kZoneCount; z-- > 0;) zones_[z].lock().unlock();
    for (unsigned c = cpu_count_; c-- > 0;) remote_[c].lock.unlock();
  }
  // Reported with no lock held (issue 11, case 10): a handler that logs,
  // records or even allocates is safe here.
  if (!ok && fail.what != nullptr)
    report({.code = ErrorCode::VerifyFailed, .detail = fail.what, .address = fail.pfn << kPageShift,
            .pfn = fail.pfn});
  return ok;
}

bool PageAllocator::verify_lists(const Range& r, VerifyTally& t) const {
  const auto zi = static_cast<unsigned>(r.zone);
  const uint64_t frames = r.end - r.base;
  for (unsigned k = 0; k < kOrderCount; ++k) {
    const bool has = r.head[k] != kNoLink;
    if (has != ((r.nonempty >> k) & 1u))
      return verify_fail("range's non-empty order mask disagrees with its free list", r.base);
    const uint64_t max_blocks = (frames >> k) + 1;
    uint64_t steps = 0;
    uint32_t prev = kNoLink;
    for (uint32_t idx = r.head[k]; idx != kNoLink;) {
      if (++steps > max_blocks) return verify_fail("free list has a cycle", r.base + idx);
      if (idx >= frames) return verify_fail("free list link points outside its range", r.base);
      const FrameDescriptor& d = r.desc[idx];
      const uint64_t pfn = r.base + idx;
      if (frame_state(d) != FrameState::Free) return verify_fail("listed block is not Free", pfn);
      if (d.order != k) return verify_fail("listed block's order differs from its list", pfn);
      if (!block_aligned(Pfn{pfn}, Order{k})) return verify_fail("listed block is misaligned", pfn);
      if (idx + (uint64_t{1} << k) > frames) return verify_fail("listed block runs past its range", pfn);
      if (d.link_prev != prev) return verify_fail("free list prev link is inconsistent", pfn);
      ++t.zone[zi].listed[k];
      prev = idx;
      idx = d.link_next;
    }
  }
  return true;
}

bool PageAllocator::verify_descriptors(const Range& r, VerifyTally& t) const {
  const auto zi = static_cast<unsigned>(r.zone);
  t.zone[zi].frames += r.end - r.base;
  for (uint64_t p = r.base; p < r.end;) {
    const FrameDescriptor& d = r.desc[p - r.base];
    const FrameState st = frame_state(d);
    if (st == FrameState::Tail) return verify_fail("tail frame outside any block", p);
    if (st == FrameState::Reserved) {
      if (d.owner >= kReservedReasonCount) return verify_fail("reserved frame with an unknown reason", p);
      ++t.zone[zi].reserved;
      t.hotplug_meta += d.owner == kReservedHotplugMeta;
      ++p;
      continue;
    }
    if (st != FrameState::Free && st != FrameState::Cached && st != FrameState::Allocated &&
        st != FrameState::Slab && st != FrameState::RemoteFreed)
      return verify_fail("descriptor has an invalid state", p);
    const unsigned k = d.order;
    if (k > kMaxOrder) return verify_fail("block order out of range", p);
    const uint64_t size = uint64_t{1} << k;
    if (!block_aligned(Pfn{p}, Order{k})) return verify_fail("block head is misaligned for its order", p);
    if (p + size > r.end) return verify_fail("block runs past its range", p);
    // A free block's tails are all zero: the slab layer tells its own tagged
    // tails from any other Tail frame by their links alone (carries_slab).
    const bool free_block = st == FrameState::Free || st == FrameState::Cached;
    for (uint64_t q = p + 1; q < p + size; ++q) {
      const FrameDescriptor& tq = r.desc[q - r.base];
      if (frame_state(tq) != FrameState::Tail)
        return verify_fail("block overlaps another block or a reserved frame", q);
      if (free_block && (tq.link_next | tq.link_prev | tq.owner) != 0)
        return verify_fail("tail frame of a free block is not all zero", q);
    }
    switch (st) {
      case FrameState::Free: {
        ++t.zone[zi].free_heads[k];
        const uint64_t buddy = p ^ size;
        if (k < kMaxOrder && buddy >= r.base && buddy + size <= r.end) {
          const FrameDescriptor& b = r.desc[buddy - r.base];
          if (frame_state(b) == FrameState::Free && b.order == k)
            return verify_fail("two free buddies of one order were left unmerged", p);
        }
        break;
      }
      case FrameState::Cached:
        if (k >= kPcpOrders) return verify_fail("cached block of an order the caches do not hold", p);
        ++t.cached_heads[zi][k];
        break;
      case FrameState::RemoteFreed: {
        // Still allocated until its home CPU collects it.
        if (k >= kPcpOrders) return verify_fail("remote-freed block of an order the caches do not hold", p);
        const unsigned home = static_cast<unsigned>(home_of(d)) - 1u;
        if (home >= cpu_count_) return verify_fail("remote-freed block has no home CPU", p);
        const RemoteQueue& q = remote_[home];
        bool token = false;
        for (uint32_t i = 0; i < q.count && !token; ++i) token = token_pfn(q.tokens()[i]) == p;
        for (uint32_t i = q.pend_at; i < q.pend_end && !token; ++i) token = token_pfn(q.pending()[i]) == p;
        if (!token) return verify_fail("remote-freed block has no token on its home CPU's queue", p);
        t.zone[zi].allocated += size;
        break;
      }
      default:
        t.zone[zi].allocated += size;
        break;
    }
    p += size;
  }
  return true;
}

bool PageAllocator::verify_caches(VerifyTally& t) const {
  for (unsigned c = 0; c < cpu_count_; ++c) {
    const RemoteQueue& q = remote_[c];
    if (q.count > kRemoteCap) return verify_fail("remote queue holds more than its capacity", 0);
    uint64_t frames[kZoneCount] = {};
    if (q.fill > 1) return verify_fail("remote queue fills a buffer it does not have", 0);
    for (uint32_t i = 0; i < q.count; ++i) {
      const Range* r = find_range(token_pfn(q.tokens()[i]));
      if (r == nullptr) return verify_fail("remote queue token names an unmanaged frame", token_pfn(q.tokens()[i]));
      frames[static_cast<unsigned>(r->zone)] += uint64_t{1} << token_order(q.tokens()[i]);
    }
    if (q.pend_at > q.pend_end || q.pend_end > kRemoteCap)
      return verify_fail("remote queue's pending tokens lie outside their buffer", 0);
    uint64_t pending[kZoneCount] = {};
    for (uint32_t i = q.pend_at; i < q.pend_end; ++i) {
      const Range* r = find_range(token_pfn(q.pending()[i]));
      if (r == nullptr) return verify_fail("remote queue's pending token names an unmanaged frame", token_pfn(q.pending()[i]));
      pending[static_cast<unsigned>(r->zone)] += uint64_t{1} << token_order(q.pending()[i]);
    }
    for (unsigned z = 0; z < kZoneCount; ++z) {
      if (frames[z] != peek(q.frames[z])) return verify_fail("remote queue's frame count disagrees with its tokens", 0);
      if (pending[z] != peek(q.collecting[z]))
        return verify_fail("remote queue's pending frame count disagrees with its pending tokens", 0);
    }
  }
  // The fast paths' only range test (page_alloc.hpp, fast_cpus_).
  const unsigned open = peek(fast_cpus_);
  if (open != 0 && open != cpu_count_) return verify_fail("fast_cpus_ is neither 0 nor the CPU count", 0);
  for (unsigned c = 0; c < kCpuIdBound; ++c) {
    if (cpus_[c].gate.closed() != (c >= open))
      return verify_fail("per-CPU gate's closed bit disagrees with fast_cpus_", 0);
    if (c > cpu_count_)
      for (unsigned z = 0; z < kZoneCount; ++z)
        for (unsigned k = 0; k < kPcpOrders; ++k)
          if (cpus_[c].stacks[z][k].size() != 0 || cpus_[c].stacks[z][k].slots != nullptr)
            return verify_fail("per-CPU cache of no CPU has a stack", 0);
  }
  for (unsigned c = 0; c <= cpu_count_; ++c) {
    for (unsigned z = 0; z < kZoneCount; ++z) {
      if (zones_[z].empty()) continue;
      for (unsigned k = 0; k < kPcpOrders; ++k) {
        const PcpStack& s = cpus_[c].stacks[z][k];
        const uint32_t n = s.size();
        if (n > kPcpHigh[k]) return verify_fail("per-CPU cache holds more than its high-water mark", 0);
        for (uint32_t i = 0; i < n; ++i) {
          const uint64_t pfn = s.slots[i].pfn();
          if ((s.slots[i].phys & (kPageSize - 1)) != 0)
            return verify_fail("per-CPU cache slot's address is not a frame's", pfn);
          const Range* r = find_range(pfn);
          if (r == nullptr || static_cast<unsigned>(r->zone) != z)
            return verify_fail("per-CPU cache holds a frame of another zone", pfn);
          if (s.slots[i].desc != &r->desc[pfn - r->base])
            return verify_fail("per-CPU cache slot's descriptor pointer is wrong", pfn);
          if (frame_state(*s.slots[i].desc) != FrameState::Cached || s.slots[i].desc->order != k)
            return verify_fail("per-CPU cache holds a block that is not Cached at its order", pfn);
          ++t.in_caches[z][k];
        }
      }
    }
  }
  return true;
}

// Every hint of the published lookup is a lower bound of the range a pfn of
// its chunk lies in (find_range walks forward from it), the chunks cover
// the last range, and the direct entries are exact: a chunk inside one
// range r has direct == uintptr(r.desc) - r.base * 16 + 1 (so its frame p's
// descriptor is &r.desc[p - r.base]) and row == (1 + r.zone) * 64, every
// other chunk kMixedChunk and row 0; a split side's entry (a chunk one
// edge cuts) names the range holding that whole side.
bool PageAllocator::verify_lookup(uint32_t count) const {
  const RangeLookup* t = detail::load_acquire(lookup_);
  if (count == 0) return true;
  if (t->addr_shift != t->shift + kPageShift) return verify_fail("range lookup's two shifts disagree", 0);
  // The main range: a range's own base, size, descriptors and row, in
  // frames and in bytes alike (or none at all).
  if (t->main_frames != 0) {
    const Range* m = find_range(t->main_base);
    if (m == nullptr || m->base != t->main_base || m->end - m->base != t->main_frames ||
        m->desc != t->main_desc || t->main_phys != t->main_base << kPageShift ||
        t->main_bytes != t->main_frames << kPageShift || t->main_virt != t->main_phys + phys_.offset ||
        t->main_row != (static_cast<unsigned>(m->zone) + 1) * kStackRowBytes)
      return verify_fail("range lookup's main range is not a range", t->main_base);
  } else if (t->main_base != 0 || t->main_phys != 0 || t->main_bytes != 0 || t->main_virt != 0 ||
             t->main_desc != nullptr ||
             t->main_row != 0) {
    return verify_fail("range lookup has a main range of no frames", t->main_base);
  }
  if (((ranges_[count - 1].end - 1) >> t->shift) >= kChunkSlots)
    return verify_fail("range lookup does not reach the last range", ranges_[count - 1].base);
  uint32_t first = 0;
  for (uint64_t c = 0; c < kChunkSlots; ++c) {
    const uint64_t lo = c << t->shift, hi = (c + 1) << t->shift;
    while (first < count && range_end_[first] <= lo) ++first;
    if (t->first[c] > first) return verify_fail("range lookup skips a range", lo);
    const Range* r = first < count ? &ranges_[first] : nullptr;
    const bool inside = r != nullptr && r->base <= lo && r->end >= hi;
    const uintptr_t e = t->direct[c];
    if (!inside) {
      if (e != kMixedChunk || t->row[c] != 0)
        return verify_fail("range lookup has a direct entry for a chunk that is not inside one range", lo);
      // A split's sides: each one that has an entry lies inside the range
      // the entry names (whose descriptors it gives, first and last frame).
      const uint64_t at = t->split_at[c];
      const uintptr_t sides[2] = {t->split_lo[c], t->split_hi[c]};
      const uint64_t from[2] = {lo, at}, to[2] = {at, hi};
      if ((sides[0] != kMixedChunk || sides[1] != kMixedChunk) && !(lo < at && at < hi))
        return verify_fail("range lookup's split point lies outside its chunk", lo);
      for (int k = 0; k < 2; ++k) {
        if (sides[k] == kMixedChunk) continue;
        const Range* side = find_range(from[k]);
        if (side == nullptr || side->end < to[k] || side->base > from[k] || sides[k] != direct_entry(*side, side->base) ||
            entry_descriptor(sides[k], to[k] - 1) != &side->desc[to[k] - 1 - side->base])
          return verify_fail("range lookup's split entry does not name the range holding its side", from[k]);
      }
      continue;
    }
    if (t->split_at[c] != 0 || t->split_lo[c] != kMixedChunk || t->split_hi[c] != kMixedChunk)
      return verify_fail("range lookup has a split for a chunk inside one range", lo);
    if (e != direct_entry(*r, r->base) || entry_descriptor(e, lo) != &r->desc[lo - r->base] ||
        entry_descriptor(e, hi - 1) != &r->desc[hi - 1 - r->base])
      return verify_fail("range lookup's direct entry does not name its range's descriptors", lo);
    if (t->row[c] != (static_cast<unsigned>(r->zone) + 1) * kStackRowBytes)
      return verify_fail("range lookup's row for a chunk is not its zone's", lo);
  }
  return true;
}

bool PageAllocator::verify_locked() const {
  VerifyTally t;
  const uint32_t count = detail::load_acquire(range_count_);
  if (!verify_lookup(count)) return false;
  // The fast paths' own tables (page_alloc.hpp first_zone_, home_words_).
  for (gfp_t f = 0; f <= kZoneFlags; ++f) {
    const unsigned row = first_zone_[f];
    if (row == 0 || row > kZoneCount) return verify_fail("zone route names no zone", 0);
    if (zones_[row - 1].empty())
      for (unsigned c = 0; c <= cpu_count_; ++c)
        for (unsigned k = 0; k < kPcpOrders; ++k)
          if (cpus_[c].stacks[row - 1][k].size() != 0)
            return verify_fail("per-CPU cache of an empty zone holds blocks", 0);
  }
  for (unsigned c = 0; c < cpu_count_; ++c)
    if (home_words_[c] != frame_word(0, FrameState::Allocated, 0, home_cpu_tag(c)))
      return verify_fail("a CPU's home word is not its hand-out word", 0);
  for (uint32_t i = 0; i < count; ++i) {
    const Range& r = ranges_[i];
    if (r.desc == nullptr || r.base >= r.end || range_end_[i] != r.end ||
        (i > 0 && ranges_[i - 1].end > r.base))
      return verify_fail("range table is inconsistent", r.base);
    const ZoneArea& z = zone(r.zone);
    if (i < z.first_range() || i >= z.end_range()) return verify_fail("range sits in the wrong zone", r.base);
    if (!verify_lists(r, t) || !verify_descriptors(r, t)) return false;
  }
  if (!verify_caches(t)) return false;
  if (t.hotplug_meta != hotplug_meta_frames_)
    return verify_fail("hot-add metadata frames disagree with the Reserved descriptors", 0);

  for (unsigned zi = 0; zi < kZoneCount; ++zi) {
    const ZoneArea& z = zones_[zi];
    const uint64_t first = z.first_range() < count ? ranges_[z.first_range()].base : 0;
    ZoneArea::Tally& zt = t.zone[zi];
    for (unsigned k = 0; k < kPcpOrders; ++k) {
      if (t.cached_heads[zi][k] != t.in_caches[zi][k])
        return verify_fail("Cached descriptors and per-CPU cache contents disagree", first);
      zt.cached += t.cached_heads[zi][k] << k;
    }
    if (const char* wrong = z.check_counters(zt)) return verify_fail(wrong, first);
  }
  return true;
}

}  // namespace pf
