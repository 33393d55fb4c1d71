// memmap_fuzz.cpp — libFuzzer target: MemoryMap against a brute-force,
// frame-by-frame oracle that knows nothing of sorting or sweeping.
//
// Input format (read front to back, little-endian; missing bytes read as 0,
// so every input is valid and seeds can be written by hand):
//   u8 config: bits 0-1 low_reserved_end (0: default 1 MiB, 1: 0, 2: u32 from
//              the stream mod the low window, 3: ~0), bits 2-4 phys_addr_bits
//              from kPhysBits[], bit 7 also format the reports (into a
//              buffer of 64 bytes per input byte)
//   then operations until the input ends, each starting with u8 op:
//     op % 16 in 0..10   add(Region{addr(), len(), type})
//             in 11..13  reserve(addr(), len(), type)
//             14         normalise() and check everything now
//             15         a burst of nested chains: u16 first frame, u8 chain count;
//                        chain c is 7 regions of rising precedence nested in
//                        18 frames, 13 runs each (this is what reaches the
//                        tables' and the output's capacities)
//   type: u8; values 0..8 (0 and 8 are unknown: Reserved), 9..255 map to 255.
//   addr(): u8 mode, then a mode-dependent field (see Decoder::addr).
//   len():  u8 mode, then a mode-dependent field (see Decoder::len).
//
// The frame universe the oracle checks: a low window of kLowFrames frames, a
// top window of kTopFrames frames under the physical limit, and the gap
// between them. Every address the decoder produces either lies in a window or
// is beyond the limit (rejected or clipped), so no region edge falls inside
// the gap, every gap frame has one type, and checking one representative gap
// frame plus "no entry boundary inside the gap" checks the whole gap.
//
// The oracle paints: every recorded region marks each checked frame it
// touches (its most restrictive type so far, whether usable bytes cover the
// frame); nothing is sorted or swept, so it shares no logic with memmap.cpp.
//
// What is checked, after every normalise() (the last op and up to two op-14s):
//   * each add()/reserve() returned the status the rules in memmap.hpp give
//     (a non-usable region past the limit or wrapping is clipped, not dropped);
//     raw(), reserved() and rejected_count() hold exactly what was accepted;
//   * per frame: type == the most restrictive type of every accepted region
//     touching the frame, Usable only when Usable regions cover all of it
//     and nothing else touches it, a hole when only partly-covered usable or
//     nothing reported it; overlays (reserve(), the low range, frame 0) raise
//     reported frames only;
//   * entries() sorted, page aligned, non-empty, merged, below the limit;
//   * normalise() returns false exactly when the runs of equal type outnumber
//     kEntryCapacity (and then entries() is the exact prefix) or a reserve()
//     was dropped for capacity;
//   * usable_frames() and overflowed() agree with the oracle.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <type_traits>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/memmap.hpp"
#include "kernel/mm/text.hpp"
#include "tests/fuzz/byte_reader.hpp"

namespace {

using pf::MapStatus;
using pf::MemoryMap;
using pf::Region;
using pf::RegionType;

constexpr uint64_t kPage = 4096;
constexpr uint64_t kLowFrames = 2048;                  // [0, 8 MiB)
constexpr uint64_t kLowDataFrames = kLowFrames - 512;  // bases; lengths stay below kLowFrames
constexpr uint64_t kTopFrames = 64;
constexpr unsigned kPhysBits[8] = {52, 52, 40, 36, 32, 24, 16, 64};
constexpr int kHole = -1;

// The precedence, written out again (independent of memmap.cpp's table).
int rank_of(RegionType t) {
  switch (t) {
    case RegionType::Usable: return 0;
    case RegionType::BootloaderReclaimable: return 1;
    case RegionType::AcpiReclaimable: return 2;
    case RegionType::AcpiNvs: return 3;
    case RegionType::Reserved: return 4;
    case RegionType::Kernel: return 5;
    case RegionType::Bad: return 6;
  }
  return 4;  // unknown firmware types are Reserved
}

class Decoder : public pf::fuzz::ByteReader {
 public:
  using ByteReader::ByteReader;

  uint64_t limit = 0;

  uint64_t addr() {
    switch (u8() % 8) {
      case 0:
      case 1:
      case 2: return u32() % (kLowDataFrames * kPage + 1);  // byte granular
      case 3:
      case 4: return (u16() % (kLowDataFrames + 1)) * kPage;  // frame aligned
      case 5: return limit - u32() % (kTopFrames * kPage + 1);
      case 6: return limit - (u8() % (kTopFrames + 1)) * kPage;
      default: return special_addr();
    }
  }
  uint64_t len(uint64_t base) {
    switch (u8() % 6) {
      case 0:
      case 1: return u16();                      // up to 16 frames of bytes
      case 2: return u8() * kPage;               // up to 255 frames
      case 3: return addr() - base;              // to another address: may wrap
      case 4: return (u8() % 4) * kPage + u8();  // small, unaligned
      default: return special_len(base);
    }
  }
  RegionType type() {
    const uint64_t t = u8();
    return static_cast<RegionType>(t <= 8 ? t : 255);
  }

 private:
  uint64_t special_addr() {
    const uint64_t table[] = {0,          1,     kPage - 1,         kPage,
                              limit - 1,  limit, limit + 1,         limit + kPage,
                              1ull << 63, ~0ull, ~0ull - kPage + 1, 0};
    const uint64_t k = u8() % 12;
    if (k != 11) return table[k];
    // A random address at or beyond the limit (never inside the gap).
    return limit + u64() % (~0ull - limit);
  }
  uint64_t special_len(uint64_t base) {
    switch (u8() % 8) {
      case 0: return 0;
      case 1: return 1;
      case 2: return ~0ull;
      case 3: return 0 - base;          // reaches 2^64 exactly
      case 4: return limit - base;      // reaches the limit exactly (if base below it)
      case 5: return limit - base + 1;  // one byte past it
      case 6: return kPage;
      default: {
        // Random, but ending beyond the limit or wrapping: never in the gap.
        const uint64_t min = base < limit ? limit - base + 1 : 1;
        return min + u64() % (~0ull - min + 1);
      }
    }
  }
};

struct Oracle {
  uint64_t limit = 0;         // bytes, after clamping phys_addr_bits
  uint64_t limit_frames = 0;  // frames
  uint64_t low_frames = 1;    // frames [0, low_frames) are raised to Reserved
  std::vector<Region> raw, reserved;
  uint64_t rejected = 0;
  bool table_overflowed = false;
  bool reserve_dropped = false;

  MapStatus add(Region r) {
    if (r.length == 0) return MapStatus::Skipped;
    if (r.length > ~0ull - r.base || r.base + r.length > limit) {
      // Usable (or wholly beyond): dropped. Anything else: clipped, kept.
      if (r.type == RegionType::Usable || r.base >= limit) {
        ++rejected;
        return MapStatus::Rejected;
      }
      r.length = limit - r.base;
    }
    if (raw.size() == MemoryMap::kRawCapacity) {
      table_overflowed = true;
      return MapStatus::CapacityExceeded;
    }
    raw.push_back(r);
    return MapStatus::Ok;
  }
  MapStatus reserve(uint64_t base, uint64_t length, RegionType type) {
    if (length == 0) return MapStatus::Skipped;
    if (base >= limit) return MapStatus::Ok;
    if (length > limit - base) length = limit - base;
    if (type == RegionType::Usable) type = RegionType::Reserved;
    if (reserved.size() == MemoryMap::kReservedCapacity) {
      table_overflowed = reserve_dropped = true;
      return MapStatus::CapacityExceeded;
    }
    reserved.push_back({base, length, type});
    return MapStatus::Ok;
  }
};

// The frames the oracle checks, in address order: [0, low_end) one by one,
// the gap [low_end, top_begin) as one representative frame (low_end), then
// [top_begin, limit_frames) one by one.
struct Universe {
  uint64_t low_end, top_begin, limit_frames;
  bool has_gap;
  explicit Universe(uint64_t lf)
      : low_end(std::min(kLowFrames, lf)),
        top_begin(std::max(low_end, lf > kTopFrames ? lf - kTopFrames : 0)),
        limit_frames(lf),
        has_gap(top_begin > low_end) {}
  size_t size() const { return low_end + has_gap + (limit_frames - top_begin); }
  uint64_t frame(size_t i) const {
    if (i < low_end) return i;
    if (has_gap && i == low_end) return low_end;
    return top_begin + (i - low_end - has_gap);
  }
  // How many real frames index i stands for.
  uint64_t weight(size_t i) const { return has_gap && i == low_end ? top_begin - low_end : 1; }
  // Calls fn(index, frame) for every checked frame in [fb, fe).
  template <typename Fn>
  void for_each(uint64_t fb, uint64_t fe, Fn fn) const {
    for (uint64_t f = fb; f < std::min(fe, low_end); ++f) fn(f, f);
    if (has_gap && fb <= low_end && low_end < fe) fn(low_end, low_end);
    for (uint64_t f = std::max(fb, top_begin); f < std::min(fe, limit_frames); ++f) {
      fn(low_end + has_gap + (f - top_begin), f);
    }
  }
};

// Brute force, frame by frame: every recorded region paints the frames it
// touches; nothing is sorted or swept. types[i] is the expected type of
// universe index i as a rank, or kHole.
std::vector<int> paint(const Oracle& o, const Universe& u) {
  const size_t n = u.size();
  std::vector<int> firmware(n, kHole), overlay(n, kHole);
  std::vector<uint8_t> full(n, 0);
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> pieces(n);
  for (const Region& r : o.raw) {
    const uint64_t b = r.base, e = r.base + r.length;
    const int rank = rank_of(r.type);
    u.for_each(b / kPage, (e + kPage - 1) / kPage, [&](size_t i, uint64_t f) {
      const uint64_t fs = f * kPage, fe = fs + kPage;
      if (rank != 0) {
        firmware[i] = std::max(firmware[i], rank);
      } else if (b <= fs && e >= fe) {
        full[i] = 1;
      } else {
        pieces[i].push_back({std::max(b, fs), std::min(e, fe)});
      }
    });
  }
  for (const Region& r : o.reserved) {
    const int rank = rank_of(r.type);
    u.for_each(r.base / kPage, (r.base + r.length + kPage - 1) / kPage,
               [&](size_t i, uint64_t) { overlay[i] = std::max(overlay[i], rank); });
  }
  u.for_each(0, o.low_frames, [&](size_t i, uint64_t) {
    overlay[i] = std::max(overlay[i], rank_of(RegionType::Reserved));
  });

  std::vector<int> types(n, kHole);
  for (size_t i = 0; i < n; ++i) {
    int t = firmware[i];
    if (t == kHole) {
      // Usable only if usable regions, together, cover every byte of it.
      bool covered = full[i] != 0;
      if (!covered && !pieces[i].empty()) {
        std::sort(pieces[i].begin(), pieces[i].end());
        uint64_t reach = u.frame(i) * kPage;
        for (const auto& [b, e] : pieces[i]) {
          if (b > reach) break;
          reach = std::max(reach, e);
        }
        covered = reach >= (u.frame(i) + 1) * kPage;
      }
      if (covered) t = 0;
    }
    if (t != kHole) t = std::max(t, overlay[i]);
    types[i] = t;
  }
  return types;
}

[[noreturn]] void fail(const char* what, uint64_t frame, int expected, int got, const Oracle& o,
                       const MemoryMap& m) {
  std::fprintf(stderr, "memmap_fuzz: %s: frame 0x%llx expected %d got %d (limit 0x%llx)\n", what,
               static_cast<unsigned long long>(frame), expected, got,
               static_cast<unsigned long long>(o.limit));
  std::fprintf(stderr, "raw (%zu):\n", o.raw.size());
  for (const Region& r : o.raw) {
    std::fprintf(stderr, "  [0x%llx +0x%llx) %s\n", static_cast<unsigned long long>(r.base),
                 static_cast<unsigned long long>(r.length), pf::region_type_name(r.type));
  }
  std::fprintf(stderr, "reserved (%zu), low frames %llu:\n", o.reserved.size(),
               static_cast<unsigned long long>(o.low_frames));
  for (const Region& r : o.reserved) {
    std::fprintf(stderr, "  [0x%llx +0x%llx) %s\n", static_cast<unsigned long long>(r.base),
                 static_cast<unsigned long long>(r.length), pf::region_type_name(r.type));
  }
  std::fprintf(stderr, "entries (%zu):\n", m.entries().size());
  for (const pf::MapEntry& e : m.entries()) {
    std::fprintf(stderr, "  [0x%llx, 0x%llx) %s\n", static_cast<unsigned long long>(e.base.value),
                 static_cast<unsigned long long>(e.end.value), pf::region_type_name(e.type));
  }
  std::abort();
}

// The type normalise() gave frame f, or kHole.
int got_type(const MemoryMap& m, uint64_t f) {
  const auto es = m.entries();
  size_t lo = 0, hi = es.size();
  while (lo < hi) {  // first entry with end > frame start
    const size_t mid = (lo + hi) / 2;
    if (es[mid].end.value <= f * kPage) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  if (lo == es.size() || es[lo].base.value > f * kPage) return kHole;
  return rank_of(es[lo].type);
}

void check(MemoryMap& m, const Oracle& o) {
  const bool result = m.normalise();
  if (!m.normalised()) fail("normalised() false after normalise()", 0, 1, 0, o, m);
  const auto es = m.entries();

  // Structure.
  for (size_t i = 0; i < es.size(); ++i) {
    const uint64_t b = es[i].base.value, e = es[i].end.value;
    if (b % kPage || e % kPage || b >= e || e > o.limit)
      fail("malformed entry", b / kPage, 0, 0, o, m);
    if (i + 1 < es.size()) {
      if (e > es[i + 1].base.value) fail("entries overlap or unsorted", e / kPage, 0, 0, o, m);
      if (e == es[i + 1].base.value && es[i].type == es[i + 1].type) {
        fail("equal neighbours not merged", e / kPage, 0, 0, o, m);
      }
    }
  }

  const Universe u(o.limit_frames);
  for (const pf::MapEntry& e : es) {
    const uint64_t b = e.base.value / kPage, x = e.end.value / kPage;
    if ((b > u.low_end && b < u.top_begin) || (x > u.low_end && x < u.top_begin)) {
      fail("entry boundary inside the gap", b, 0, 0, o, m);
    }
  }

  // The oracle's answer, and the number of runs of equal type it implies:
  // the output fits exactly when they do not outnumber kEntryCapacity.
  const std::vector<int> want = paint(o, u);
  uint64_t runs = 0, usable = 0;
  int prev = kHole;
  for (size_t i = 0; i < want.size(); ++i) {
    if (want[i] != kHole && want[i] != prev) ++runs;
    if (want[i] == 0) usable += u.weight(i);
    prev = want[i];
  }
  const bool fitted = runs <= MemoryMap::kEntryCapacity;
  if (result != (fitted && !o.reserve_dropped)) {
    fail("normalise() result vs run count and dropped reservations", runs, fitted, result, o, m);
  }

  // Compare frame by frame; when the output overflowed, only its prefix.
  const uint64_t checked_end =
      fitted ? u.limit_frames : (es.empty() ? 0 : es.back().end.value / kPage);
  for (size_t i = 0; i < want.size(); ++i) {
    const uint64_t f = u.frame(i);
    if (f >= checked_end) break;
    const int got = got_type(m, f);
    if (got != want[i]) fail("type mismatch", f, want[i], got, o, m);
  }
  if (fitted && es.size() != runs) fail("entry count", es.size(), static_cast<int>(runs), 0, o, m);
  if (!fitted && es.size() != MemoryMap::kEntryCapacity) fail("prefix size", es.size(), 0, 0, o, m);
  if (fitted && m.usable_frames() != usable) {
    fail("usable_frames()", m.usable_frames(), static_cast<int>(usable), 0, o, m);
  }
  if (m.overflowed() != (o.table_overflowed || !fitted)) fail("overflowed()", 0, 0, 0, o, m);
  if (m.rejected_count() != o.rejected) fail("rejected_count()", o.rejected, 0, 0, o, m);

  // The tables hold exactly what the oracle accepted.
  if (m.raw().size() != o.raw.size() || m.reserved().size() != o.reserved.size()) {
    fail("table sizes", m.raw().size(), static_cast<int>(o.raw.size()), 0, o, m);
  }
  for (size_t i = 0; i < o.raw.size(); ++i) {
    const Region& a = m.raw()[i];
    if (a.base != o.raw[i].base || a.length != o.raw[i].length || a.type != o.raw[i].type) {
      fail("raw() differs", i, 0, 0, o, m);
    }
  }
  for (size_t i = 0; i < o.reserved.size(); ++i) {
    const Region& a = m.reserved()[i];
    if (a.base != o.reserved[i].base || a.length != o.reserved[i].length ||
        a.type != o.reserved[i].type) {
      fail("reserved() differs", i, 0, 0, o, m);
    }
  }
}

// The reports must cope with whatever is in the tables (and not overrun a
// buffer that is too small for them).
void format(const MemoryMap& m, size_t capacity) {
  static char text[96 * 1024];
  pf::TextBuffer t(text, std::min(capacity, sizeof text));
  m.format_raw(t);
  m.format_entries(t);
  if (t.length() >= std::min(capacity, sizeof text) && capacity != 0) std::abort();
}

void discard_log(const char*, size_t, void*) {}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  pf::hosted::set_log_sink(&discard_log, nullptr);  // warnings are expected by the thousand
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Decoder in(data, size);
  const uint64_t config = in.u8();
  pf::MemmapOptions options;
  switch (config & 3) {
    case 0: break;
    case 1: options.low_reserved_end = 0; break;
    case 2: options.low_reserved_end = in.u32() % (kLowFrames * kPage); break;
    case 3: options.low_reserved_end = ~0ull; break;
  }
  options.phys_addr_bits = kPhysBits[(config >> 2) & 7];

  // ~40 KiB, built in place in the same static storage every time: a fresh
  // heap block per input costs more in page clearing than the test itself.
  alignas(MemoryMap) static unsigned char storage[sizeof(MemoryMap)];
  static_assert(std::is_trivially_destructible_v<MemoryMap>);
  MemoryMap* const map = new (storage) MemoryMap(options);

  Oracle o;
  const unsigned bits = std::clamp(options.phys_addr_bits, 12u, 63u);  // as memmap.hpp says
  o.limit = 1ull << bits;
  o.limit_frames = o.limit / kPage;
  const uint64_t low = options.low_reserved_end >= o.limit
                           ? o.limit
                           : (options.low_reserved_end + kPage - 1) / kPage * kPage;
  o.low_frames = std::max<uint64_t>(1, low / kPage);
  in.limit = o.limit;

  int checks = 0;
  while (!in.done()) {
    const uint64_t op = in.u8() % 16;
    if (op <= 10) {
      Region r;
      r.base = in.addr();
      r.length = in.len(r.base);
      r.type = in.type();
      const MapStatus want = o.add(r), got = map->add(r);
      if (want != got) fail("add() status", r.base / kPage, int(want), int(got), o, *map);
    } else if (op <= 13) {
      const uint64_t base = in.addr();
      const uint64_t length = in.len(base);
      const RegionType type = in.type();
      const MapStatus want = o.reserve(base, length, type), got = map->reserve(base, length, type);
      if (want != got) fail("reserve() status", base / kPage, int(want), int(got), o, *map);
    } else if (op == 15) {
      // Levels: usable over [0, 17), level k >= 1 over [2 + k, 15 - k).
      const RegionType rising[7] = {RegionType::Usable,
                                    RegionType::BootloaderReclaimable,
                                    RegionType::AcpiReclaimable,
                                    RegionType::AcpiNvs,
                                    RegionType::Reserved,
                                    RegionType::Kernel,
                                    RegionType::Bad};
      const uint64_t first = 256 + in.u16() % 512, chains = in.u8() % 41;
      for (uint64_t c = 0; c < chains; ++c) {
        const uint64_t b = first + c * 18;
        for (uint64_t k = 0; k < 7; ++k) {
          const uint64_t lo = k == 0 ? 0 : 2 + k, hi = k == 0 ? 17 : 15 - k;
          const Region r{(b + lo) * kPage, (hi - lo) * kPage, rising[k]};
          const MapStatus want = o.add(r), got = map->add(r);
          if (want != got) fail("add() status", r.base / kPage, int(want), int(got), o, *map);
        }
      }
    } else if (checks < 2) {
      ++checks;
      check(*map, o);
    }
  }
  check(*map, o);
  if (config & 0x80) format(*map, size * 64);
  return 0;
}
