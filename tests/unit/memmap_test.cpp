// memmap_test.cpp — memory-map intake: hand-written firmware maps and the
// exact normalised map each must produce (worked out by hand from the rules in
// memmap.hpp), plus the rejection, capacity and report paths.
//
// Every test also checks the structural invariants of entries() (sorted,
// page aligned, non-empty, no overlap, equal neighbours merged).
#include "kernel/mm/memmap.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kernel/mm/error.hpp"
#include "kernel/mm/text.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

using namespace test::region_letters;

struct Expect {
  uint64_t base, end;
  RegionType type;
  bool operator==(const Expect&) const = default;
};

std::string show(const std::vector<Expect>& v) {
  std::ostringstream os;
  for (const Expect& e : v) {
    os << "  [0x" << std::hex << e.base << ", 0x" << e.end << ") " << region_type_name(e.type)
       << "\n";
  }
  return os.str();
}

std::vector<Expect> entries_of(const MemoryMap& m) {
  std::vector<Expect> v;
  for (const MapEntry& e : m.entries()) v.push_back({e.base.value, e.end.value, e.type});
  return v;
}

void check_invariants(const MemoryMap& m) {
  const auto es = m.entries();
  for (size_t i = 0; i < es.size(); ++i) {
    SCOPED_TRACE(testing::Message() << "entry " << i);
    EXPECT_TRUE(es[i].base.page_aligned());
    EXPECT_TRUE(es[i].end.page_aligned());
    EXPECT_LT(es[i].base, es[i].end);
    if (es[i].type == U) {
      EXPECT_GE(es[i].base.value, kPageSize) << "frame 0 is never usable";
    }
    if (i + 1 < es.size()) {
      EXPECT_LE(es[i].end, es[i + 1].base);
      if (es[i].end == es[i + 1].base) {
        EXPECT_NE(es[i].type, es[i + 1].type) << "not merged";
      }
    }
  }
}

// Normalises `m` and compares with `expected`, printing both on a mismatch.
void expect_map(MemoryMap& m, const std::vector<Expect>& expected) {
  ASSERT_TRUE(m.normalise());
  ASSERT_TRUE(m.normalised());
  check_invariants(m);
  const auto got = entries_of(m);
  EXPECT_EQ(got, expected) << "got:\n" << show(got) << "expected:\n" << show(expected);
  uint64_t usable = 0;
  for (const Expect& e : expected) {
    if (e.type == U) usable += (e.end - e.base) / kPageSize;
  }
  EXPECT_EQ(m.usable_frames(), usable);
}

std::unique_ptr<MemoryMap> make_map(std::initializer_list<Region> regions,
                                    MemmapOptions options = {}) {
  auto m = std::make_unique<MemoryMap>(options);
  for (const Region& r : regions) EXPECT_EQ(m->add(r), MapStatus::Ok);
  return m;
}

Region span(uint64_t base, uint64_t end, RegionType t) { return {base, end - base, t}; }

// ---- hand-written maps ---------------------------------------------------

TEST(Memmap, EmptyMapHasNoEntries) {
  auto m = make_map({});
  expect_map(*m, {});
  EXPECT_EQ(m->usable_frames(), 0u);
}

TEST(Memmap, AlignedUsableRangeIsKeptAsIs) {
  auto m = make_map({span(1 * MiB, 16 * MiB, U)});
  expect_map(*m, {{1 * MiB, 16 * MiB, U}});
  EXPECT_EQ(m->usable_frames(), 15 * MiB / kPageSize);
}

TEST(Memmap, UnsortedEntriesAreSorted) {
  auto m = make_map({span(32 * MiB, 64 * MiB, U), span(16 * MiB, 32 * MiB, R),
                     span(0x200000, 16 * MiB, U), span(0xfee00000, 0xfee01000, R)});
  expect_map(*m, {{0x200000, 16 * MiB, U},
                  {16 * MiB, 32 * MiB, R},
                  {32 * MiB, 64 * MiB, U},
                  {0xfee00000, 0xfee01000, R}});
}

TEST(Memmap, AdjacentEntriesOfOneTypeAreMerged) {
  auto m =
      make_map({span(3 * MiB, 4 * MiB, U), span(1 * MiB, 2 * MiB, U), span(2 * MiB, 3 * MiB, U),
                span(4 * MiB, 5 * MiB, R), span(5 * MiB, 6 * MiB, R), span(6 * MiB, 7 * MiB, A)});
  expect_map(*m, {{1 * MiB, 4 * MiB, U}, {4 * MiB, 6 * MiB, R}, {6 * MiB, 7 * MiB, A}});
}

TEST(Memmap, DuplicatesCountOnce) {
  auto m =
      make_map({span(1 * MiB, 8 * MiB, U), span(1 * MiB, 8 * MiB, U), span(8 * MiB, 9 * MiB, N),
                span(8 * MiB, 9 * MiB, N), span(1 * MiB, 8 * MiB, U)});
  expect_map(*m, {{1 * MiB, 8 * MiB, U}, {8 * MiB, 9 * MiB, N}});
  EXPECT_EQ(m->raw().size(), 5u) << "raw() keeps the map as received";
}

TEST(Memmap, OverlapGoesToTheMoreRestrictiveType) {
  // Usable overlapping reserved on both sides, and a reserved range that
  // overlaps two usable ones.
  auto m = make_map({span(1 * MiB, 8 * MiB, U), span(6 * MiB, 10 * MiB, R),
                     span(9 * MiB, 16 * MiB, U), span(0x80000, 0x180000, R)});
  // The low MiB overlay only raises what the firmware reported: [0, 0x80000)
  // stays a hole.
  expect_map(*m, {{0x80000, 0x180000, R},
                  {0x180000, 6 * MiB, U},
                  {6 * MiB, 10 * MiB, R},
                  {10 * MiB, 16 * MiB, U}});
}

TEST(Memmap, NestedRegionsSplitTheirParents) {
  auto m = make_map({span(1 * MiB, 64 * MiB, U), span(2 * MiB, 3 * MiB, A),
                     span(2 * MiB + 0x1000, 2 * MiB + 0x3000, B), span(40 * MiB, 48 * MiB, L),
                     span(42 * MiB, 43 * MiB, N)});
  expect_map(*m, {{1 * MiB, 2 * MiB, U},
                  {2 * MiB, 2 * MiB + 0x1000, A},
                  {2 * MiB + 0x1000, 2 * MiB + 0x3000, B},
                  {2 * MiB + 0x3000, 3 * MiB, A},
                  {3 * MiB, 40 * MiB, U},
                  {40 * MiB, 42 * MiB, L},
                  {42 * MiB, 43 * MiB, N},
                  {43 * MiB, 48 * MiB, L},
                  {48 * MiB, 64 * MiB, U}});
}

TEST(Memmap, ZeroLengthEntriesAreSkipped) {
  MemoryMap m;
  const uint64_t warnings = warning_count();
  EXPECT_EQ(m.add({.base = 2 * MiB, .length = 0, .type = U}), MapStatus::Skipped);
  EXPECT_EQ(m.add({.base = ~uint64_t{0}, .length = 0, .type = R}), MapStatus::Skipped);
  EXPECT_EQ(m.add(span(1 * MiB, 2 * MiB, U)), MapStatus::Ok);
  EXPECT_EQ(m.reserve(1 * MiB + 0x5000, 0), MapStatus::Skipped);
  EXPECT_EQ(m.raw().size(), 1u);
  EXPECT_EQ(m.reserved().size(), 0u);
  EXPECT_EQ(m.rejected_count(), 0u);
  EXPECT_EQ(warning_count(), warnings) << "a zero-length entry is not worth a warning";
  expect_map(m, {{1 * MiB, 2 * MiB, U}});
}

TEST(Memmap, UnalignedEdgesTrimUsableAndWidenTheRest) {
  auto m = make_map({span(0x100123, 0x200fff, U),    // usable: inward
                     span(0x200fff, 0x400800, U),    // touches the first: joins it byte-exactly
                     span(0x300010, 0x300020, R),    // 16 bytes reserve a whole frame
                     span(0x500800, 0x503800, U),    // alone, partial frames at both ends
                     span(0x600001, 0x601fff, A)});  // widened outward
  expect_map(*m, {{0x101000, 0x300000, U},
                  {0x300000, 0x301000, R},
                  {0x301000, 0x400000, U},
                  {0x501000, 0x503000, U},
                  {0x600000, 0x602000, A}});
}

TEST(Memmap, PartialUsableFrameNextToReservedBecomesReserved) {
  // The frame [0x2000, 0x3000) is half usable, half reserved: reserved wins.
  // The frame [0x5000, 0x6000) is half usable, half hole: it is dropped.
  auto m = make_map(
      {span(0x101000, 0x102800, U), span(0x102800, 0x103000, R), span(0x104000, 0x105800, U)});
  expect_map(*m, {{0x101000, 0x102000, U}, {0x102000, 0x103000, R}, {0x104000, 0x105000, U}});
}

TEST(Memmap, WrappingAndTooWideUsableEntriesAreRejectedWithANamedWarning) {
  test::LogCapture log;
  MemoryMap m;
  const uint64_t warnings = warning_count();
  EXPECT_EQ(m.add({.base = 0xfffffffffffff000, .length = 0x2000, .type = U}), MapStatus::Rejected);
  EXPECT_EQ(m.add({.base = 0x10000000000000 - 0x1000, .length = 0x2000, .type = U}),
            MapStatus::Rejected);
  EXPECT_EQ(m.add({.base = 0x10000000000000, .length = 0x1000, .type = R}), MapStatus::Rejected);
  // Ending exactly at 2^52 is within the width.
  EXPECT_EQ(m.add({.base = 0x10000000000000 - 0x1000, .length = 0x1000, .type = U}), MapStatus::Ok);
  EXPECT_EQ(m.add(span(1 * MiB, 2 * MiB, U)), MapStatus::Ok);
  EXPECT_EQ(m.rejected_count(), 3u);
  EXPECT_EQ(warning_count(), warnings + 3);
  EXPECT_NE(log.text().find("map-entry-wraps"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("[0xfffffffffffff000, 0x1000)"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("map-entry-beyond-phys-limit"), std::string::npos) << log.text();
  EXPECT_NE(log.text().find("[0xffffffffff000, 0x10000000001000)"), std::string::npos)
      << log.text();
  EXPECT_EQ(m.raw().size(), 2u);
  expect_map(m, {{1 * MiB, 2 * MiB, U}, {0x10000000000000 - 0x1000, 0x10000000000000, U}});
}

// Issue 11, case 5: a non-usable region reaching past the width or wrapping
// past 2^64 is clipped at the limit, so the usable memory it overlaps below
// the limit stays out. Dropping it would have made that memory usable.
TEST(Memmap, NonUsableEntriesPastTheLimitAreClippedNeverDropped) {
  test::LogCapture log;
  auto m = std::make_unique<MemoryMap>();
  const uint64_t warnings = warning_count();
  const uint64_t limit = uint64_t{1} << kPhysAddrBits;
  EXPECT_EQ(m->add(span(1 * MiB, 65 * MiB, U)), MapStatus::Ok);
  EXPECT_EQ(m->add({.base = 33 * MiB, .length = limit, .type = R}), MapStatus::Ok);  // past 2^52
  EXPECT_EQ(m->add({.base = 17 * MiB, .length = ~0ull - 4096, .type = N}), MapStatus::Ok);  // wraps
  EXPECT_EQ(m->add({.base = 9 * MiB, .length = ~0ull, .type = static_cast<RegionType>(200)}),
            MapStatus::Ok);  // unknown type: reserved, wraps
  EXPECT_EQ(m->rejected_count(), 0u);
  EXPECT_EQ(warning_count(), warnings + 3);
  EXPECT_NE(log.text().find("map-entry-beyond-phys-limit: firmware region reaches beyond the "
                            "physical address width, clipped"),
            std::string::npos)
      << log.text();
  EXPECT_NE(log.text().find("map-entry-wraps: firmware region wraps past 2^64 (end shown mod "
                            "2^64), clipped"),
            std::string::npos)
      << log.text();
  ASSERT_EQ(m->raw().size(), 4u);
  EXPECT_EQ(m->raw()[1].base + m->raw()[1].length, limit);
  EXPECT_EQ(m->raw()[2].base + m->raw()[2].length, limit);
  // Reserved outranks AcpiNvs: the clipped reserved region from 9 MiB wins
  // over the wrapped NVS one; nothing from 9 MiB up is usable.
  expect_map(*m, {{1 * MiB, 9 * MiB, U}, {9 * MiB, limit, R}});
  EXPECT_EQ(m->usable_frames(), 8 * MiB / kPageSize);
}

TEST(Memmap, PhysAddrBitsOptionNarrowsTheWidth) {
  test::LogCapture log;
  auto m = std::make_unique<MemoryMap>(MemmapOptions{.phys_addr_bits = 32});
  EXPECT_EQ(m->add(span(1 * MiB, 0x80000000, U)), MapStatus::Ok);
  EXPECT_EQ(m->add(span(0x100000000, 0x140000000, U)), MapStatus::Rejected);
  EXPECT_EQ(m->add(span(0xfffff000, 0x100000000, R)), MapStatus::Ok);
  // A reservation reaching past the width is clipped, not dropped.
  EXPECT_EQ(m->reserve(0x7ffff000, 0x200000000, K), MapStatus::Ok);
  expect_map(*m,
             {{1 * MiB, 0x7ffff000, U}, {0x7ffff000, 0x80000000, K}, {0xfffff000, 0x100000000, K}});
  EXPECT_EQ(m->rejected_count(), 1u);
}

TEST(Memmap, TypePrecedenceIsUsableBootloaderAcpiNvsReservedKernelBad) {
  const RegionType order[] = {U, L, A, N, R, K, B};
  for (unsigned i = 0; i < 7; ++i) EXPECT_EQ(region_type_precedence(order[i]), i);
  // Every pair, in both orders of arrival: the overlap frame takes the higher.
  for (unsigned i = 0; i < 7; ++i) {
    for (unsigned j = 0; j < 7; ++j) {
      SCOPED_TRACE(testing::Message()
                   << region_type_name(order[i]) << " under " << region_type_name(order[j]));
      auto m = make_map({span(4 * MiB, 4 * MiB + 0x2000, order[i]),
                         span(4 * MiB + 0x1000, 4 * MiB + 0x3000, order[j])});
      const RegionType top = order[i > j ? i : j];
      std::vector<Expect> expected;
      auto push = [&](uint64_t b, uint64_t e, RegionType t) {
        if (!expected.empty() && expected.back().end == b && expected.back().type == t) {
          expected.back().end = e;
        } else {
          expected.push_back({b, e, t});
        }
      };
      push(4 * MiB, 4 * MiB + 0x1000, order[i]);
      push(4 * MiB + 0x1000, 4 * MiB + 0x2000, top);
      push(4 * MiB + 0x2000, 4 * MiB + 0x3000, order[j]);
      expect_map(*m, expected);
    }
  }
}

TEST(Memmap, UnknownFirmwareTypesAreReserved) {
  EXPECT_EQ(region_type_from_raw(0), R);
  EXPECT_EQ(region_type_from_raw(8), R);
  EXPECT_EQ(region_type_from_raw(0xf00), R);
  EXPECT_EQ(region_type_from_raw(3), A);
  // A Region carrying an out-of-range enum value ranks as Reserved too.
  auto m = make_map({span(1 * MiB, 4 * MiB, U), span(2 * MiB, 3 * MiB, static_cast<RegionType>(42)),
                     span(3 * MiB, 4 * MiB, static_cast<RegionType>(0))});
  expect_map(*m, {{1 * MiB, 2 * MiB, U}, {2 * MiB, 4 * MiB, R}});
}

TEST(Memmap, ReservedRangeInsideUsableIsCarvedOut) {
  auto m = make_map({span(1 * MiB, 64 * MiB, U)});
  EXPECT_EQ(m->reserve(8 * MiB + 0x800, 0x100000 - 0x7f0, R),
            MapStatus::Ok);  // unaligned both ends
  expect_map(
      *m, {{1 * MiB, 8 * MiB, U}, {8 * MiB, 9 * MiB + 0x1000, R}, {9 * MiB + 0x1000, 64 * MiB, U}});
}

TEST(Memmap, KernelAndModulesInsideUsableAreReservedWithTheirType) {
  auto m = make_map({span(0, 0x9fc00, U), span(1 * MiB, 128 * MiB, U)});
  EXPECT_EQ(m->reserve(1 * MiB, 0x2345), MapStatus::Ok);               // kernel image
  EXPECT_EQ(m->reserve(0x10000, 0x100, K), MapStatus::Ok);             // boot info, low MiB
  EXPECT_EQ(m->reserve(16 * MiB + 0x10, 0x3000, K), MapStatus::Ok);    // module 1
  EXPECT_EQ(m->reserve(16 * MiB + 0x4000, 0x1000, K), MapStatus::Ok);  // module 2, after a gap
  EXPECT_EQ(m->reserve(20 * MiB, 0x1000, B), MapStatus::Ok);   // a frame the kernel found bad
  EXPECT_EQ(m->reserve(200 * MiB, 0x1000, K), MapStatus::Ok);  // outside the map: no entry
  expect_map(*m, {{0, 0x10000, R},
                  {0x10000, 0x11000, K},
                  {0x11000, 0x9f000, R},  // the low MiB; the trailing partial frame is a hole
                  {1 * MiB, 1 * MiB + 0x3000, K},
                  {1 * MiB + 0x3000, 16 * MiB, U},
                  {16 * MiB, 16 * MiB + 0x5000, K},  // both modules: widened, then merged
                  {16 * MiB + 0x5000, 20 * MiB, U},
                  {20 * MiB, 20 * MiB + 0x1000, B},
                  {20 * MiB + 0x1000, 128 * MiB, U}});
}

TEST(Memmap, LowReservedEndIsConfigurableButFrameZeroStaysOut) {
  // Default: the whole first MiB reserved.
  {
    auto m = make_map({span(0, 0x9fc00, U), span(0x9fc00, 0xa0000, R)});
    expect_map(*m, {{0, 0xa0000, R}});
  }
  // 0: only frame 0.
  {
    auto m = make_map({span(0, 0x9fc00, U), span(0x9fc00, 0xa0000, R)},
                      MemmapOptions{.low_reserved_end = 0});
    expect_map(*m, {{0, 0x1000, R}, {0x1000, 0x9f000, U}, {0x9f000, 0xa0000, R}});
  }
  // Unaligned: rounded up to a frame.
  {
    auto m = make_map({span(0, 0x9fc00, U)}, MemmapOptions{.low_reserved_end = 0x8001});
    expect_map(*m, {{0, 0x9000, R}, {0x9000, 0x9f000, U}});
  }
  // Beyond everything: nothing usable, nothing added.
  {
    auto m = make_map({span(0x1000, 0x3000, U)}, MemmapOptions{.low_reserved_end = ~uint64_t{0}});
    expect_map(*m, {{0x1000, 0x3000, R}});
  }
}

// QEMU `-M pc -m 128M` (SeaBIOS's E820).
TEST(Memmap, QemuPc128M) {
  auto m = make_map({span(0x0, 0x9fc00, U), span(0x9fc00, 0xa0000, R), span(0xf0000, 0x100000, R),
                     span(0x100000, 0x7fe0000, U), span(0x7fe0000, 0x8000000, R),
                     span(0xfffc0000, 0x100000000, R)});
  expect_map(*m, {{0x0, 0xa0000, R},
                  {0xf0000, 0x100000, R},
                  {0x100000, 0x7fe0000, U},
                  {0x7fe0000, 0x8000000, R},
                  {0xfffc0000, 0x100000000, R}});
  EXPECT_EQ(m->usable_frames(), 0x7ee0u);
}

// QEMU `-M q35 -m 3G`: 2 GiB below the PCI hole, 1 GiB above 4 GiB.
TEST(Memmap, QemuQ35ThreeGig) {
  auto m = make_map({span(0x0, 0x9fc00, U), span(0x9fc00, 0xa0000, R), span(0xf0000, 0x100000, R),
                     span(0x100000, 0x7ffe0000, U), span(0x7ffe0000, 0x80000000, R),
                     span(0xb0000000, 0xc0000000, R),  // PCIe ECAM (MMCONFIG)
                     span(0xfed1c000, 0xfed20000, R),  // ICH9 root complex register block
                     span(0xfeffc000, 0xff000000, R), span(0xfffc0000, 0x100000000, R),
                     span(0x100000000, 0x140000000, U)});
  expect_map(*m, {{0x0, 0xa0000, R},
                  {0xf0000, 0x100000, R},
                  {0x100000, 0x7ffe0000, U},
                  {0x7ffe0000, 0x80000000, R},
                  {0xb0000000, 0xc0000000, R},
                  {0xfed1c000, 0xfed20000, R},
                  {0xfeffc000, 0xff000000, R},
                  {0xfffc0000, 0x100000000, R},
                  {0x100000000, 0x140000000, U}});
  EXPECT_EQ(m->usable_frames(), (0x7ffe0000u - 0x100000u + 0x40000000u) / kPageSize);
}

// A desktop board's E820 as Linux prints it (BIOS-e820 lines), 21 entries:
// small reserved, ACPI and NVS ranges below 4 GiB, most RAM above 4 GiB.
TEST(Memmap, RealDesktopE820) {
  auto m = make_map({
      span(0x0000000000000000, 0x0000000000058000, U),
      span(0x0000000000058000, 0x0000000000059000, R),
      span(0x0000000000059000, 0x000000000009e000, U),
      span(0x000000000009e000, 0x0000000000100000, R),
      span(0x0000000000100000, 0x000000008c5a7000, U),
      span(0x000000008c5a7000, 0x000000008c5a8000, N),
      span(0x000000008c5a8000, 0x000000008c5a9000, R),
      span(0x000000008c5a9000, 0x000000008ccf2000, U),
      span(0x000000008ccf2000, 0x000000008d140000, R),
      span(0x000000008d140000, 0x000000008d2b2000, U),
      span(0x000000008d2b2000, 0x000000008d2f4000, A),
      span(0x000000008d2f4000, 0x000000008d6aa000, N),
      span(0x000000008d6aa000, 0x000000008deff000, R),
      span(0x000000008deff000, 0x000000008df00000, U),
      span(0x000000008df00000, 0x0000000090000000, R),
      span(0x00000000e0000000, 0x00000000f0000000, R),
      span(0x00000000fe000000, 0x00000000fe011000, R),
      span(0x00000000fec00000, 0x00000000fec01000, R),
      span(0x00000000fee00000, 0x00000000fee01000, R),
      span(0x00000000ff000000, 0x0000000100000000, R),
      span(0x0000000100000000, 0x000000046f000000, U),
  });
  expect_map(*m, {
                     {0x0, 0x100000, R},  // the low MiB: usable parts raised to reserved, merged
                     {0x100000, 0x8c5a7000, U},
                     {0x8c5a7000, 0x8c5a8000, N},
                     {0x8c5a8000, 0x8c5a9000, R},
                     {0x8c5a9000, 0x8ccf2000, U},
                     {0x8ccf2000, 0x8d140000, R},
                     {0x8d140000, 0x8d2b2000, U},
                     {0x8d2b2000, 0x8d2f4000, A},
                     {0x8d2f4000, 0x8d6aa000, N},
                     {0x8d6aa000, 0x8deff000, R},
                     {0x8deff000, 0x8df00000, U},
                     {0x8df00000, 0x90000000, R},
                     {0xe0000000, 0xf0000000, R},
                     {0xfe000000, 0xfe011000, R},
                     {0xfec00000, 0xfec01000, R},
                     {0xfee00000, 0xfee01000, R},
                     {0xff000000, 0x100000000, R},
                     {0x100000000, 0x46f000000, U},
                 });
  EXPECT_EQ(m->raw().size(), 21u);
}

TEST(Memmap, HugeMapsNormaliseWithoutTouchingFrames) {
  // 256 GiB with holes, and the whole 52-bit space: the sweep's cost does not
  // depend on the size (a per-frame loop would take minutes here).
  auto m = make_map({span(1 * MiB, 3 * GiB, U), span(4 * GiB, 4 * GiB + 256 * GiB, U)});
  expect_map(*m, {{1 * MiB, 3 * GiB, U}, {4 * GiB, 260 * GiB, U}});
  EXPECT_EQ(m->usable_frames(), (3 * GiB - 1 * MiB + 256 * GiB) / kPageSize);

  auto all = make_map({span(0, kPhysAddrLimit, U)});
  expect_map(*all, {{0, 1 * MiB, R}, {1 * MiB, kPhysAddrLimit, U}});
}

TEST(Memmap, ChangesAfterNormaliseInvalidateTheResult) {
  auto m = make_map({span(1 * MiB, 4 * MiB, U)});
  ASSERT_TRUE(m->normalise());
  EXPECT_EQ(m->entries().size(), 1u);
  m->reserve(2 * MiB, 0x1000);
  EXPECT_FALSE(m->normalised());
  EXPECT_EQ(m->entries().size(), 0u);
  expect_map(
      *m, {{1 * MiB, 2 * MiB, U}, {2 * MiB, 2 * MiB + 0x1000, K}, {2 * MiB + 0x1000, 4 * MiB, U}});
  // normalise() is idempotent.
  expect_map(
      *m, {{1 * MiB, 2 * MiB, U}, {2 * MiB, 2 * MiB + 0x1000, K}, {2 * MiB + 0x1000, 4 * MiB, U}});
}

TEST(Memmap, ReserveOfTypeUsableIsRecordedAsReserved) {
  test::LogCapture log;
  auto m = make_map({span(1 * MiB, 4 * MiB, U)});
  EXPECT_EQ(m->reserve(2 * MiB, 0x1000, U), MapStatus::Ok);
  EXPECT_NE(log.text().find("map-bad-input"), std::string::npos);
  expect_map(
      *m, {{1 * MiB, 2 * MiB, U}, {2 * MiB, 2 * MiB + 0x1000, R}, {2 * MiB + 0x1000, 4 * MiB, U}});
}

// ---- capacity -------------------------------------------------------------

TEST(Memmap, RawTableFullLosesMemoryButStillNormalises) {
  test::LogCapture log;
  auto m = std::make_unique<MemoryMap>();
  for (size_t i = 0; i < MemoryMap::kRawCapacity; ++i) {
    ASSERT_EQ(m->add({.base = (i + 1) * 2 * MiB, .length = MiB, .type = U}), MapStatus::Ok);
  }
  EXPECT_FALSE(m->overflowed());
  EXPECT_EQ(m->add({.base = 1 * GiB, .length = MiB, .type = U}), MapStatus::CapacityExceeded);
  EXPECT_TRUE(m->overflowed());
  EXPECT_NE(log.text().find("map-capacity-exceeded"), std::string::npos);
  EXPECT_EQ(m->raw().size(), MemoryMap::kRawCapacity);
  // What was recorded normalises exactly; losing a region is safe, so
  // normalise() succeeds and only overflowed() tells.
  EXPECT_TRUE(m->normalise());
  check_invariants(*m);
  EXPECT_TRUE(m->overflowed());
  EXPECT_EQ(m->usable_frames(), MemoryMap::kRawCapacity * (MiB / kPageSize));
}

TEST(Memmap, ReservedTableFullMakesNormaliseFail) {
  test::LogCapture log;
  auto m = make_map({span(1 * MiB, 1 * GiB, U)});
  for (size_t i = 0; i < MemoryMap::kReservedCapacity; ++i) {
    ASSERT_EQ(m->reserve((i + 1) * 2 * MiB, 0x1000), MapStatus::Ok);
  }
  EXPECT_FALSE(m->overflowed());
  EXPECT_EQ(m->reserve(3 * MiB, 0x1000), MapStatus::CapacityExceeded);
  EXPECT_TRUE(m->overflowed());
  EXPECT_EQ(m->reserved().size(), MemoryMap::kReservedCapacity);
  EXPECT_NE(log.text().find("map-capacity-exceeded"), std::string::npos);
  // [3 MiB, +4 KiB) could now be handed out: the map must not be trusted.
  EXPECT_FALSE(m->normalise());
  check_invariants(*m);
  EXPECT_EQ(m->usable_frames(), (1 * GiB - 1 * MiB) / kPageSize - MemoryMap::kReservedCapacity);
  EXPECT_FALSE(m->normalise()) << "sticky: the dropped range stays dropped";
}

// Nested chains of rising precedence produce 2k-1 entries from k regions; a
// kernel reservation inside a chain's usable rim adds two more. The output
// table holds one entry per pair of consecutive edges, so even the densest
// map the tables accept fits (it once overflowed at 512 entries and pf_init
// refused a map intake had accepted: issue 11, case 7).
TEST(Memmap, OutputCapacityHoldsTheDensestMap) {
  test::LogCapture log;
  const RegionType chain[] = {U, L, A, N, R, K, B};
  constexpr size_t kChains = MemoryMap::kRawCapacity / 7;  // 36
  constexpr uint64_t F = kPageSize;
  auto chain_base = [](size_t c) { return 16 * MiB + c * 64 * F; };
  // Chain c: usable frames [2, 40), level k >= 1 over frames [8 + k, 32 - k),
  // and, when `reserved`, a kernel frame at 4.
  auto build = [&](MemoryMap& m, bool reserved) {
    for (size_t c = 0; c < kChains; ++c) {
      const uint64_t b = chain_base(c);
      ASSERT_EQ(m.add(span(b + 2 * F, b + 40 * F, U)), MapStatus::Ok);
      for (uint64_t k = 1; k < 7; ++k) {
        ASSERT_EQ(m.add(span(b + (8 + k) * F, b + (32 - k) * F, chain[k])), MapStatus::Ok);
      }
      if (reserved) {
        ASSERT_EQ(m.reserve(b + 4 * F, F, K), MapStatus::Ok);
      }
    }
  };
  auto expected_chain = [&](size_t c, bool reserved) {
    const uint64_t b = chain_base(c);
    std::vector<Expect> v;
    if (reserved) {
      v = {{b + 2 * F, b + 4 * F, U}, {b + 4 * F, b + 5 * F, K}, {b + 5 * F, b + 9 * F, U}};
    } else {
      v = {{b + 2 * F, b + 9 * F, U}};
    }
    const std::vector<Expect> middle = {
        {b + 9 * F, b + 10 * F, L},  {b + 10 * F, b + 11 * F, A}, {b + 11 * F, b + 12 * F, N},
        {b + 12 * F, b + 13 * F, R}, {b + 13 * F, b + 14 * F, K}, {b + 14 * F, b + 26 * F, B},
        {b + 26 * F, b + 27 * F, K}, {b + 27 * F, b + 28 * F, R}, {b + 28 * F, b + 29 * F, N},
        {b + 29 * F, b + 30 * F, A}, {b + 30 * F, b + 31 * F, L}, {b + 31 * F, b + 40 * F, U}};
    v.insert(v.end(), middle.begin(), middle.end());
    return v;
  };

  {
    auto m = std::make_unique<MemoryMap>();
    build(*m, false);
    std::vector<Expect> all;
    for (size_t c = 0; c < kChains; ++c) {
      auto v = expected_chain(c, false);
      all.insert(all.end(), v.begin(), v.end());
    }
    ASSERT_EQ(all.size(), kChains * 13);  // 468: fits
    expect_map(*m, all);
    EXPECT_FALSE(m->overflowed());
  }

  auto m = std::make_unique<MemoryMap>();
  build(*m, true);
  std::vector<Expect> prefix;
  for (size_t c = 0; c < kChains; ++c) {
    auto v = expected_chain(c, true);
    prefix.insert(prefix.end(), v.begin(), v.end());
  }
  ASSERT_EQ(prefix.size(), 540u);
  EXPECT_LE(prefix.size(), MemoryMap::kEntryCapacity);
  EXPECT_TRUE(m->normalise());
  EXPECT_FALSE(m->overflowed());
  EXPECT_EQ(log.text().find("map-capacity-exceeded"), std::string::npos) << log.text();
  check_invariants(*m);
  const auto got = entries_of(*m);
  EXPECT_EQ(got, prefix) << "got:\n" << show(got);
  // The bound the capacity comes from: edges of every table at its fullest.
  EXPECT_EQ(MemoryMap::kEntryCapacity,
            2 * (MemoryMap::kRawCapacity + MemoryMap::kReservedCapacity + 1));
}

// ---- reports ----------------------------------------------------------------

TEST(Memmap, FormatsTheMapAsReceivedAndAsNormalised) {
  auto m = make_map({span(0x100000, 0x7fe0000, U), span(0x0, 0x9fc00, U),
                     span(0x7fe0000, 0x8000000, static_cast<RegionType>(9))});
  m->reserve(0x200000, 0x1800);
  char buf[1024];
  TextBuffer t(buf, sizeof buf);
  m->format_entries(t);
  EXPECT_STREQ(buf, "normalised map: not built yet\n");
  t.clear();
  m->format_raw(t);
  EXPECT_STREQ(buf,
               "firmware map as received: 3 regions\n"
               "  [mem 0x0000000000100000-0x0000000007fdffff] usable\n"
               "  [mem 0x0000000000000000-0x000000000009fbff] usable\n"
               "  [mem 0x0000000007fe0000-0x0000000007ffffff] type 9 (unknown: reserved)\n"
               "  reserve   [mem 0x0000000000200000-0x00000000002017ff] kernel\n");
  ASSERT_TRUE(m->normalise());
  t.clear();
  m->format_entries(t);
  EXPECT_STREQ(buf,
               "normalised map: 5 entries, 32478 usable frames (126.8 MiB)\n"
               "  [mem 0x0000000000000000-0x000000000009efff] reserved (159 frames)\n"
               "  [mem 0x0000000000100000-0x00000000001fffff] usable (256 frames)\n"
               "  [mem 0x0000000000200000-0x0000000000201fff] kernel (2 frames)\n"
               "  [mem 0x0000000000202000-0x0000000007fdffff] usable (32222 frames)\n"
               "  [mem 0x0000000007fe0000-0x0000000007ffffff] reserved (32 frames)\n");
}

}  // namespace
}  // namespace pf
