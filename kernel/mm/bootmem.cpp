// bootmem.cpp — see bootmem.hpp. Everything here is a handful of linear
// scans over at most a few hundred map entries and taken spans, once, at boot.
#include "bootmem.hpp"

namespace pf {

namespace {

constexpr uint64_t kDmaEndPfn = (16 * MiB) >> kPageShift;
constexpr uint64_t kDma32EndPfn = (4 * GiB) >> kPageShift;

// Lower is better: Normal memory first, DMA memory last.
constexpr unsigned zone_rank(uint64_t pfn) {
  return pfn < kDmaEndPfn ? 3 : pfn < kDma32EndPfn ? 2 : 1;
}
constexpr uint64_t zone_slice_end(uint64_t pfn) {
  return pfn < kDmaEndPfn ? kDmaEndPfn : pfn < kDma32EndPfn ? kDma32EndPfn : ~uint64_t{0};
}
constexpr uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
constexpr uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

}  // namespace

void BootMem::reset(const MemoryMap& map, uint64_t limit) {
  map_ = &map;
  limit_pfn_ = limit == 0 ? ~uint64_t{0} : limit >> kPageShift;
  taken_count_ = 0;
}

uint64_t BootMem::taken_frames() const {
  uint64_t n = 0;
  for (size_t i = 0; i < taken_count_; ++i) n += taken_[i].frames;
  return n;
}

uint64_t BootMem::first_fit(uint64_t lo, uint64_t hi, uint64_t frames) const {
  if (lo == 0) lo = 1;
  uint64_t start = lo;
  for (size_t i = 0; i < taken_count_ && taken_[i].base < hi; ++i) {
    const Span& t = taken_[i];
    if (t.end() <= start) continue;
    if (t.base >= start && t.base - start >= frames) return start;
    start = max_u64(start, t.end());
  }
  return start < hi && hi - start >= frames ? start : 0;
}

void BootMem::record(uint64_t base, uint64_t frames) {
  size_t i = taken_count_;
  while (i > 0 && taken_[i - 1].base > base) {
    taken_[i] = taken_[i - 1];
    --i;
  }
  taken_[i] = Span{base, frames};
  ++taken_count_;
}

uint64_t BootMem::alloc(uint64_t frames, Span prefer) {
  if (map_ == nullptr || frames == 0 || taken_count_ == kMaxTaken) return 0;
  uint64_t best = 0;
  unsigned best_rank = ~0u;
  for (const MapEntry& e : map_->entries()) {
    if (e.type != RegionType::Usable) continue;
    const uint64_t entry_end = min_u64(e.end_pfn().value, limit_pfn_);
    for (uint64_t lo = e.first_pfn().value; lo < entry_end;) {
      const uint64_t hi = min_u64(entry_end, zone_slice_end(lo));
      const unsigned rank = zone_rank(lo);
      if (rank != 3 && prefer.frames != 0) {
        const uint64_t plo = max_u64(lo, prefer.base), phi = min_u64(hi, prefer.end());
        if (plo < phi) {
          if (uint64_t at = first_fit(plo, phi, frames)) {
            record(at, frames);
            return at;
          }
        }
      }
      if (rank < best_rank) {
        if (uint64_t at = first_fit(lo, hi, frames)) {
          best = at;
          best_rank = rank;
        }
      }
      lo = hi;
    }
  }
  if (best != 0) record(best, frames);
  return best;
}

}  // namespace pf
