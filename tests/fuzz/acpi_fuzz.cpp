// acpi_fuzz.cpp — libFuzzer target: the firmware table readers of
// kernel/arch/x86_64/acpi.cpp (ACPI's RSDP, RSDT/XSDT and MADT; the Intel MP
// tables' floating pointer and configuration table) on a fake physical
// memory the input builds. The readers run before anything can catch a
// fault and on tables nobody vouches for, so the properties are: no read
// outside the memory the caller said it can reach, a bounded amount of work,
// a refusal always has a reason, and a CPU list is one smp_discover can use.
//
// The fake memory is kMemory bytes (physical 0 up), one heap block reused by
// every input: AddressSanitizer flags a read past its end, and the part at
// or above the input's `reach` is poisoned while the readers run, so a read
// there (which the readers promise never to make) is flagged too. What an
// input wrote is zeroed again afterwards ("Left as found").
//
// Input format (read front to back; missing bytes read as 0):
//   u8  flags   bit 0: pass the RSDP hint (the physical address of blob
//                      `hint`; 0 without blobs), else search the BIOS areas
//               bit 1: the hint is `reach` as read (any u32) instead
//               bit 5: reach = `reach` % (kMemory + 1), else kMemory
//   u8  hint    blob index of the RSDP hint
//   u16 ebda    the BIOS data area's EBDA segment word (physical 0x40E)
//   u32 reach
//   then blobs until the input ends (at most kMaxBlobs), each:
//     u32 phys (% kMemory)   u16 len   u8 kind   u8 nlinks
//     nlinks x (u16 offset, u8 target blob, u8 width: bit 0 set = 8 bytes)
//     len bytes of data (fewer if the input ends)
//   kind bits 0-2: the checksum to fix after every blob is placed and linked
//                  (0 none, 1 ACPI table header, 2 RSDP (v1, and v2's
//                  extended one when its revision is >= 2), 3 MP floating
//                  pointer, 4 MP configuration table); bit 3: phys rounded
//                  down to 16 (the search step); bits 4-7: the data is
//                  written 2^k times in a row (large tables from short inputs)
//   A link writes the physical address of another blob into this one
//   (little-endian, 4 or 8 bytes), so RSDT/XSDT entries, the RSDP's table
//   pointers and the MP pointer's table address survive mutation.
//
// Checked besides memory safety:
//   * acpi_find_cpus and mps_find_cpus: success iff no error; success lists
//     at least one CPU; cpu_count <= kMaxMadtCpus, `dropped` only when full;
//     no APIC id listed twice (add_cpu promises that);
//   * ACPI success: the RSDP used is the hint, or lies 16-aligned in the
//     area rsdp_source names, has its signature and a good checksum; the
//     MADT is an "APIC" table with a good checksum, at most 1 MiB, below
//     reach; its entries (8 bytes at least each) bound the CPUs counted;
//   * MP success: the floating pointer lies 16-aligned in the area mp_source
//     names, inside reach, with its signature; APIC ids fit in a byte; the
//     configuration table (unless a default configuration, which lists the
//     CPUs 0 and 1) has its signature, its entries bound the CPUs counted;
//   * mps_find_cpus on the AcpiCpus a failed acpi_find_cpus left (what
//     smp_discover does) gives the same CPU list and counts as on a fresh one.
#include <sanitizer/asan_interface.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "kernel/arch/x86_64/acpi.hpp"
#include "tests/fuzz/byte_reader.hpp"

namespace {

using pf::arch::AcpiCpus;

constexpr size_t kMemory = 2u << 20;  // the BIOS areas below 1 MiB, room for tables above
constexpr size_t kMaxBlobs = 32;
constexpr size_t kMaxDirty = kMaxBlobs + 1;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "acpi_fuzz: %s\n", what);
  std::abort();
}

unsigned char* g_mem = nullptr;
bool g_verbose = false;  // ACPI_FUZZ_VERBOSE=1: each input's outcome on stderr (to check seeds)

struct Range {
  uint64_t begin = 0, end = 0;
};

uint8_t sum(uint64_t from, uint64_t n) {
  uint8_t s = 0;
  for (uint64_t i = 0; i < n; ++i) s = static_cast<uint8_t>(s + g_mem[from + i]);
  return s;
}
uint32_t rd32(uint64_t at) {
  return static_cast<uint32_t>(g_mem[at]) | static_cast<uint32_t>(g_mem[at + 1]) << 8 |
         static_cast<uint32_t>(g_mem[at + 2]) << 16 | static_cast<uint32_t>(g_mem[at + 3]) << 24;
}
// Sets g_mem[at] so that the bytes [from, from + n) sum to 0 (clipped to memory).
void fix_sum(uint64_t at, uint64_t from, uint64_t n) {
  if (at >= kMemory || from >= kMemory) return;
  if (n > kMemory - from) n = kMemory - from;
  if (at < from || at >= from + n) return;
  g_mem[at] = static_cast<uint8_t>(g_mem[at] - sum(from, n));
}
void fix_checksum(uint64_t p, unsigned kind) {
  switch (kind) {
    case 1:  // ACPI table: length u32 @4, checksum @9
      if (p + 8 <= kMemory) fix_sum(p + 9, p, rd32(p + 4));
      break;
    case 2:  // RSDP: checksum @8 over 20 bytes; revision @15; length u32 @20, ext. checksum @32
      fix_sum(p + 8, p, 20);
      if (p + 24 <= kMemory && g_mem[p + 15] >= 2) fix_sum(p + 32, p, rd32(p + 20));
      break;
    case 3:  // MP floating pointer: length in 16-byte units @8, checksum @10
      if (p + 9 <= kMemory) fix_sum(p + 10, p, uint64_t{g_mem[p + 8]} * 16);
      break;
    case 4:  // MP configuration table: base length u16 @4, checksum @7
      if (p + 6 <= kMemory) fix_sum(p + 7, p, g_mem[p + 4] | g_mem[p + 5] << 8);
      break;
    default:
      break;
  }
}

bool has(uint64_t phys, const char* sig, size_t n) {
  return phys + n <= kMemory && std::memcmp(g_mem + phys, sig, n) == 0;
}

void check_list(const AcpiCpus& c, bool ok) {
  if (ok != (c.error == nullptr)) fail("success and error disagree");
  if (ok && c.cpu_count == 0) fail("success with no CPU");
  if (c.cpu_count > AcpiCpus::kMaxMadtCpus) fail("cpu_count above kMaxMadtCpus");
  if (c.dropped != 0 && c.cpu_count != AcpiCpus::kMaxMadtCpus) fail("CPUs dropped from a list not full");
  for (size_t i = 0; i < c.cpu_count; ++i)
    for (size_t j = i + 1; j < c.cpu_count; ++j)
      if (c.cpus[i].apic_id == c.cpus[j].apic_id) fail("an APIC id listed twice");
}

bool same_list(const AcpiCpus& a, const AcpiCpus& b) {
  if (a.cpu_count != b.cpu_count || a.online_capable != b.online_capable || a.disabled != b.disabled ||
      a.dropped != b.dropped || a.mp_floating != b.mp_floating)
    return false;
  // The MP table's LAPIC address replaces the MADT's only when it is read.
  if (a.error == nullptr && a.lapic_address != b.lapic_address) return false;
  for (size_t i = 0; i < a.cpu_count; ++i)
    if (a.cpus[i].apic_id != b.cpus[i].apic_id || a.cpus[i].acpi_uid != b.cpus[i].acpi_uid ||
        a.cpus[i].x2apic_entry != b.cpus[i].x2apic_entry)
      return false;
  return true;
}

// Where the BIOS-area search may have found a structure of `length` bytes.
bool in_area(uint64_t p, uint64_t length, const char* where, uint64_t ebda) {
  const auto within = [&](uint64_t from, uint64_t to) { return p >= from && p + length <= to; };
  if (p % 16 != 0) return false;
  if (std::strcmp(where, "EBDA") == 0) return ebda >= 0x80000 && ebda < 0xA0000 && within(ebda, ebda + 1024);
  if (std::strcmp(where, "the last KiB of base memory") == 0) return within(0x9FC00, 0xA0000);
  if (std::strcmp(where, "BIOS area 0xE0000-0xFFFFF") == 0) return within(0xE0000, 0x100000);
  return false;
}

void check_acpi(const AcpiCpus& c, bool ok, bool hinted, uint64_t hint, uint64_t reach, uint64_t ebda) {
  check_list(c, ok);
  if (!ok) return;
  if (c.rsdp == 0 || c.rsdp + 20 > reach || !has(c.rsdp, "RSD PTR ", 8) || sum(c.rsdp, 20) != 0)
    fail("the RSDP used is not a valid one");
  if (hinted ? c.rsdp != hint : !in_area(c.rsdp, 20, c.rsdp_source, ebda))
    fail("the RSDP is not where rsdp_source says");
  if (c.madt == 0 || c.madt + 36 > reach || !has(c.madt, "APIC", 4)) fail("the MADT used has no signature");
  const uint64_t len = rd32(c.madt + 4);
  if (len < 44 || len > (1u << 20) || c.madt + len > reach || sum(c.madt, len) != 0)
    fail("the MADT used has a bad length or checksum");
  if (c.cpu_count + c.online_capable + c.disabled + c.dropped > (len - 44) / 8)
    fail("more CPUs counted than the MADT has entries");
}

void check_mps(const AcpiCpus& c, bool ok, uint64_t reach, uint64_t ebda) {
  check_list(c, ok);
  if (!ok) return;
  const uint64_t fp = c.mp_floating;
  if (fp == 0 || fp + 16 > reach || !has(fp, "_MP_", 4) || !in_area(fp, 16, c.mp_source, ebda))
    fail("the MP floating pointer is not where mp_source says");
  for (size_t i = 0; i < c.cpu_count; ++i)
    if (c.cpus[i].apic_id > 0xFF) fail("an MP APIC id wider than a byte");
  if (g_mem[fp + 11] != 0) {
    if (c.cpu_count != 2 || c.cpus[0].apic_id != 0 || c.cpus[1].apic_id != 1)
      fail("a default configuration is not the CPUs 0 and 1");
    return;
  }
  const uint64_t t = rd32(fp + 4);
  if (t == 0 || t + 44 > reach || !has(t, "PCMP", 4)) fail("the MP configuration table has no signature");
  const uint64_t len = g_mem[t + 4] | g_mem[t + 5] << 8;
  if (t + len > reach || sum(t, len) != 0) fail("the MP configuration table fails its checksum");
  if (c.cpu_count + c.disabled + c.dropped > (len - 44) / 20) fail("more CPUs counted than the table holds");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_mem = static_cast<unsigned char*>(std::calloc(kMemory, 1));
  if (g_mem == nullptr) fail("no memory");
  g_verbose = std::getenv("ACPI_FUZZ_VERBOSE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pf::fuzz::ByteReader in(data, size);
  const unsigned flags = static_cast<unsigned>(in.u8());
  const unsigned hint_blob = static_cast<unsigned>(in.u8());
  const uint64_t ebda_segment = in.u16();
  const uint64_t reach_in = in.u32();
  const uint64_t reach = (flags & 0x20) ? reach_in % (kMemory + 1) : kMemory;

  Range dirty[kMaxDirty];
  size_t ndirty = 0;
  g_mem[0x40E] = static_cast<unsigned char>(ebda_segment);
  g_mem[0x40F] = static_cast<unsigned char>(ebda_segment >> 8);
  dirty[ndirty++] = {0x40E, 0x410};

  struct Link {
    uint64_t offset;
    unsigned target;
    bool wide;
  };
  struct Blob {
    uint64_t phys;
    unsigned kind;
    Link links[8];
    unsigned nlinks;
  };
  Blob blobs[kMaxBlobs];
  size_t nblobs = 0;
  while (!in.done() && nblobs < kMaxBlobs) {
    Blob& b = blobs[nblobs++];
    b.phys = in.u32() % kMemory;
    const uint64_t len = in.u16();
    b.kind = static_cast<unsigned>(in.u8());
    if (b.kind & 8) b.phys &= ~uint64_t{15};
    const unsigned nlinks = static_cast<unsigned>(in.u8());
    b.nlinks = 0;
    for (unsigned i = 0; i < nlinks; ++i) {
      const Link l{in.u16(), static_cast<unsigned>(in.u8()), (in.u8() & 1) != 0};
      if (b.nlinks < 8) b.links[b.nlinks++] = l;
    }
    const uint64_t copies = uint64_t{1} << (b.kind >> 4);
    // The data, as much of it as the input still has, repeated `copies` times.
    static unsigned char chunk[65536];
    uint64_t n = 0;
    while (n < len && !in.done()) chunk[n++] = static_cast<unsigned char>(in.u8());
    uint64_t at = b.phys;
    for (uint64_t c = 0; c < copies && n != 0 && at < kMemory; ++c) {
      const uint64_t k = n < kMemory - at ? n : kMemory - at;
      std::memcpy(g_mem + at, chunk, k);
      at += k;
    }
    dirty[ndirty++] = {b.phys, at};
  }
  for (size_t i = 0; i < nblobs; ++i) {
    for (unsigned j = 0; j < blobs[i].nlinks; ++j) {
      const Link& l = blobs[i].links[j];
      const uint64_t at = blobs[i].phys + l.offset, width = l.wide ? 8 : 4;
      if (at + width > kMemory) continue;
      const uint64_t v = blobs[l.target % nblobs].phys;
      for (uint64_t k = 0; k < width; ++k) g_mem[at + k] = static_cast<unsigned char>(v >> (8 * k));
      if (at < dirty[i + 1].begin || at + width > dirty[i + 1].end) {
        // Outside what the blob's data covered: widen its range to be zeroed.
        if (at < dirty[i + 1].begin) dirty[i + 1].begin = at;
        if (at + width > dirty[i + 1].end) dirty[i + 1].end = at + width;
      }
    }
  }
  for (size_t i = 0; i < nblobs; ++i) {
    if ((blobs[i].kind & 7) == 0) continue;
    fix_checksum(blobs[i].phys, blobs[i].kind & 7);
    // Every checksum byte fixed lies in the structure's first 33 bytes.
    Range& d = dirty[i + 1];
    if (d.begin > blobs[i].phys) d.begin = blobs[i].phys;
    if (d.end < blobs[i].phys + 33) d.end = blobs[i].phys + 33 < kMemory ? blobs[i].phys + 33 : kMemory;
  }

  const bool hinted = flags & 1;
  uint64_t hint = 0;
  if (hinted) hint = (flags & 2) ? reach_in : nblobs != 0 ? blobs[hint_blob % nblobs].phys : 0;
  // The EBDA the readers see: the BDA's word as it stands once the blobs are
  // placed (a blob may cover 0x40E), none when it lies beyond reach.
  const uint64_t ebda = reach >= 0x410 ? (uint64_t{g_mem[0x40E]} | uint64_t{g_mem[0x40F]} << 8) << 4 : 0;

  const pf::PhysMap pm{reinterpret_cast<uintptr_t>(g_mem)};
  AcpiCpus acpi, mps;
  ASAN_POISON_MEMORY_REGION(g_mem + reach, kMemory - reach);
  const bool acpi_ok = pf::arch::acpi_find_cpus(hint, "hint", pm, reach, acpi);
  // A hint of 0 means "search" to the reader. (The checks read only below reach.)
  check_acpi(acpi, acpi_ok, hint != 0, hint, reach, ebda);
  const char* const acpi_error = acpi.error;
  const bool mps_ok = pf::arch::mps_find_cpus(pm, reach, mps);
  bool after_ok = false;
  if (!acpi_ok) after_ok = pf::arch::mps_find_cpus(pm, reach, acpi);  // as smp_discover does
  ASAN_UNPOISON_MEMORY_REGION(g_mem + reach, kMemory - reach);

  check_mps(mps, mps_ok, reach, ebda);
  if (g_verbose) {
    std::fprintf(stderr, "acpi: %s (rsdp %#llx from %s, madt %#llx) cpus %zu oc %zu dis %zu drop %zu\n",
                 acpi_ok ? "ok" : acpi_error, static_cast<unsigned long long>(acpi.rsdp), acpi.rsdp_source,
                 static_cast<unsigned long long>(acpi.madt), acpi.cpu_count, acpi.online_capable,
                 acpi.disabled, acpi.dropped);
    std::fprintf(stderr, "mps: %s (fp %#llx from %s) cpus %zu dis %zu\n", mps_ok ? "ok" : mps.error,
                 static_cast<unsigned long long>(mps.mp_floating), mps.mp_source, mps.cpu_count, mps.disabled);
  }
  if (!acpi_ok) {
    check_list(acpi, after_ok);
    if (after_ok != mps_ok || !same_list(acpi, mps))
      fail("mps_find_cpus after a failed acpi_find_cpus differs from a fresh one");
  }

  // Left as found: every byte written is zero again.
  for (size_t i = 0; i < ndirty; ++i)
    if (dirty[i].end > dirty[i].begin) std::memset(g_mem + dirty[i].begin, 0, dirty[i].end - dirty[i].begin);
  return 0;
}
