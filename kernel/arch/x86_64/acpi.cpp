// acpi.cpp — RSDP, RSDT/XSDT and MADT parsing; the MP tables' floating
// pointer and configuration table. See acpi.hpp.
//
// Fields are read byte by byte (kernel/boot/bytes.hpp): firmware tables are
// packed and need not be aligned. Offsets are those of ACPI 6.5.
#include "kernel/arch/x86_64/acpi.hpp"

#include "kernel/boot/bytes.hpp"

namespace pf::arch {

namespace {
using boot::bytes::u16;
using boot::bytes::u32;
using boot::bytes::u64;
using boot::bytes::u8;

constexpr size_t kRsdpV1Length = 20, kRsdpV2Length = 36, kHeaderLength = 36;
constexpr size_t kMadtEntries = 44;  // header, LAPIC address u32 @36, flags u32 @40
constexpr uint32_t kMaxTableLength = 1u << 20;
// The RSDP is 36 bytes in every ACPI revision to date; its length field is
// trusted up to this much. Unbounded, a corrupt length had valid_rsdp sum up
// to `reach` bytes (the kernel's whole 4 GiB boot direct map, MMIO included),
// at each of the 8192 places the BIOS-area search tries.
constexpr uint32_t kMaxRsdpLength = 4096;
// Root-table entries naming an "APIC" table whose length or checksum is bad
// that are checked before giving up. Each check sums up to kMaxTableLength
// bytes, and a root table may have 2^18 entries: checked for every entry
// (every table was, whatever its signature), a corrupt RSDT naming one large
// bad table throughout summed up to 2^38 bytes (tests/fuzz/acpi_fuzz.cpp,
// seed acpi_many_bad_madts: over a minute for 32768 entries).
constexpr unsigned kMaxMadtCandidates = 4;
// MP 1.4: the floating pointer (16 bytes per `length` unit; config table
// address u32 @4, length u8 @8, feature byte 1 @11: 0, or a default
// configuration's number); the configuration table (base length u16 @4,
// checksum over it, entry count u16 @34, local APIC address u32 @36,
// entries from @44: a processor is 20 bytes (APIC id @1, flags @3: bit 0
// enabled), the other base types 1-4 are 8).
constexpr size_t kMpFloatingLength = 16, kMpHeaderLength = 44, kMpProcessorLength = 20, kMpOtherLength = 8;
constexpr uint64_t kDefaultLapicAddress = 0xFEE00000;

bool bytes_equal(const unsigned char* p, const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != static_cast<unsigned char>(s[i])) return false;
  return true;
}

uint8_t checksum(const unsigned char* p, size_t n) {
  uint8_t sum = 0;
  for (size_t i = 0; i < n; ++i) sum = static_cast<uint8_t>(sum + p[i]);
  return sum;
}

struct Reader {
  const PhysMap& pm;
  uint64_t reach;
  // The bytes of [phys, phys + n) if they lie below `reach`, else nullptr.
  const unsigned char* at(uint64_t phys, uint64_t n) const {
    if (phys == 0 || phys >= reach || n > reach - phys) return nullptr;
    return pm.to_virt<const unsigned char>(PhysAddr{phys});
  }
  bool valid_rsdp(uint64_t phys) const {
    const unsigned char* p = at(phys, kRsdpV1Length);
    if (p == nullptr || !bytes_equal(p, "RSD PTR ", 8) || checksum(p, kRsdpV1Length) != 0) return false;
    if (u8(p, 15) >= 2) {
      const unsigned char* q = at(phys, kRsdpV2Length);
      const uint32_t len = q ? u32(q, 20) : 0;
      if (q == nullptr || len < kRsdpV2Length || len > kMaxRsdpLength || at(phys, len) == nullptr ||
          checksum(q, len) != 0)
        return false;
    }
    return true;
  }
  // A whole table with a good length and checksum, or nullptr.
  const unsigned char* table(uint64_t phys, uint32_t* length) const {
    const unsigned char* h = at(phys, kHeaderLength);
    if (h == nullptr) return nullptr;
    const uint32_t len = u32(h, 4);
    if (len < kHeaderLength || len > kMaxTableLength) return nullptr;
    const unsigned char* t = at(phys, len);
    if (t == nullptr || checksum(t, len) != 0) return nullptr;
    *length = len;
    return t;
  }
  // Scans [from, to) on 16-byte boundaries for a structure `valid` accepts
  // that is at least `min_length` bytes long.
  template <typename Valid>
  uint64_t search(uint64_t from, uint64_t to, size_t min_length, Valid valid) const {
    for (uint64_t p = from & ~uint64_t{15}; p + min_length <= to; p += 16)
      if (valid(p)) return p;
    return 0;
  }
  uint64_t search_rsdp(uint64_t from, uint64_t to) const {
    return search(from, to, kRsdpV1Length, [this](uint64_t p) { return valid_rsdp(p); });
  }
  // The BIOS areas both tables are looked for in, in the specifications'
  // order: the first KiB of the EBDA (its segment is the BIOS data area's
  // word at 0x40E), [for MP: else the last KiB of base memory,] then the
  // BIOS ROM. `where` names the area of the structure found.
  template <typename Valid>
  uint64_t search_bios(size_t min_length, Valid valid, bool base_memory_top, const char** where) const {
    const unsigned char* bda = at(0x40E, 2);
    const uint64_t ebda = bda ? uint64_t{u16(bda, 0)} << 4 : 0;
    uint64_t found = 0;
    if (ebda >= 0x80000 && ebda < 0xA0000 && (found = search(ebda, ebda + 1024, min_length, valid)) != 0) {
      *where = "EBDA";
    } else if (base_memory_top && (found = search(0x9FC00, 0xA0000, min_length, valid)) != 0) {
      *where = "the last KiB of base memory";
    } else if ((found = search(0xE0000, 0x100000, min_length, valid)) != 0) {
      *where = "BIOS area 0xE0000-0xFFFFF";
    }
    return found;
  }
};

void add_cpu(AcpiCpus& out, uint32_t apic_id, uint32_t uid, uint32_t flags, bool x2) {
  const bool enabled = flags & 1, online_capable = flags & 2;
  if (!enabled) {
    ++(online_capable ? out.online_capable : out.disabled);
    return;
  }
  for (size_t i = 0; i < out.cpu_count; ++i)
    if (out.cpus[i].apic_id == apic_id) return;  // listed twice (type 0 and 9): once
  if (out.cpu_count == AcpiCpus::kMaxMadtCpus) {
    ++out.dropped;
    return;
  }
  out.cpus[out.cpu_count++] = {apic_id, uid, x2};
}
bool valid_mp_floating(const Reader& r, uint64_t phys) {
  const unsigned char* p = r.at(phys, kMpFloatingLength);
  if (p == nullptr || !bytes_equal(p, "_MP_", 4) || u8(p, 8) == 0) return false;
  const size_t len = size_t{u8(p, 8)} * 16;
  const unsigned char* q = r.at(phys, len);
  return q != nullptr && checksum(q, len) == 0;
}
}  // namespace

bool mps_find_cpus(const PhysMap& pm, uint64_t reach, AcpiCpus& out) {
  // The CPU list, its counts and `error` are this reader's alone: a failed
  // acpi_find_cpus may have counted a MADT's online-capable and disabled
  // processors (one with none enabled), which are not MP's, and left its
  // error, which a found list must not carry.
  out.cpu_count = out.online_capable = out.disabled = out.dropped = 0;
  out.pcat_compat = false;
  out.error = nullptr;
  const Reader r{pm, reach};
  const uint64_t fp = r.search_bios(
      kMpFloatingLength, [&r](uint64_t q) { return valid_mp_floating(r, q); }, true, &out.mp_source);
  if (fp == 0) {
    out.error = "no MP floating pointer in the EBDA, the last KiB of base memory or 0xE0000-0xFFFFF";
    return false;
  }
  out.mp_floating = fp;
  const unsigned char* f = r.at(fp, kMpFloatingLength);
  if (u8(f, 11) != 0) {
    // A default configuration (MP 1.4 chapter 5): two processors, local
    // APIC ids 0 and 1, at the architectural address; no table.
    out.lapic_address = kDefaultLapicAddress;
    add_cpu(out, 0, 0, 1, false);
    add_cpu(out, 1, 1, 1, false);
    return true;
  }
  const uint64_t table = u32(f, 4);
  const unsigned char* h = r.at(table, kMpHeaderLength);
  const uint32_t len = h != nullptr ? u16(h, 4) : 0;
  const unsigned char* t = len >= kMpHeaderLength ? r.at(table, len) : nullptr;
  if (t == nullptr || !bytes_equal(t, "PCMP", 4) || checksum(t, len) != 0) {
    out.error = "the MP configuration table is unreadable or fails its checksum";
    return false;
  }
  out.lapic_address = u32(t, 36);
  // The walk is bounded by the base table's length, not by its entry count
  // (u16 @34): QEMU's qboot (-M microvm,acpi=off) writes every entry but
  // leaves the count 0, and the second CPU of `-smp 2` was never found.
  // The length is checksummed with the entries; Linux walks it too.
  size_t off = kMpHeaderLength;
  for (unsigned i = 0; off < len; ++i) {
    const uint8_t type = u8(t, off);
    const size_t size = type == 0 ? kMpProcessorLength : kMpOtherLength;
    if (type > 4 || off + size > len) break;  // an unknown type's length is unknown: stop there
    // Flags bit 0: usable. MP has no online-capable processors: a disabled
    // one is counted as disabled.
    if (type == 0) add_cpu(out, u8(t, off + 1), i, u8(t, off + 3) & 1, false);
    off += size;
  }
  if (out.cpu_count == 0) {
    out.error = "the MP configuration table lists no enabled processor";
    return false;
  }
  return true;
}

bool acpi_find_cpus(uint64_t rsdp_hint, const char* hint_source, const PhysMap& pm,
                    uint64_t reach, AcpiCpus& out) {
  const Reader r{pm, reach};
  uint64_t rsdp = 0;
  if (rsdp_hint != 0) {
    if (!r.valid_rsdp(rsdp_hint)) {
      out.error = "the boot loader's RSDP has a bad signature or checksum";
      return false;
    }
    rsdp = rsdp_hint;
    out.rsdp_source = hint_source;
  } else {
    rsdp = r.search_bios(kRsdpV1Length, [&r](uint64_t q) { return r.valid_rsdp(q); }, false,
                         &out.rsdp_source);
    if (rsdp == 0) {
      out.error = "no RSDP: none from the boot loader, none in the EBDA or 0xE0000-0xFFFFF";
      return false;
    }
  }
  out.rsdp = rsdp;
  const unsigned char* p = r.at(rsdp, kRsdpV1Length);
  out.revision = u8(p, 15);
  // The XSDT (64-bit entries) when ACPI 2.0+ gives one, else the RSDT.
  const bool use_xsdt = out.revision >= 2 && u64(r.at(rsdp, kRsdpV2Length), 24) != 0;
  const uint64_t root = use_xsdt ? u64(r.at(rsdp, kRsdpV2Length), 24) : u32(p, 16);
  const size_t entry_size = use_xsdt ? 8 : 4;
  uint32_t root_len = 0;
  const unsigned char* rt = r.table(root, &root_len);
  if (rt == nullptr || !bytes_equal(rt, use_xsdt ? "XSDT" : "RSDT", 4)) {
    out.error = use_xsdt ? "the XSDT is unreadable or fails its checksum"
                         : "the RSDT is unreadable or fails its checksum";
    return false;
  }
  // Work bound: a signature read per entry, at most kMaxMadtCandidates
  // checksums (see there).
  const unsigned char* madt = nullptr;
  uint32_t madt_len = 0;
  unsigned candidates = 0;
  for (size_t off = kHeaderLength; off + entry_size <= root_len; off += entry_size) {
    const uint64_t phys = use_xsdt ? u64(rt, off) : u32(rt, off);
    const unsigned char* h = r.at(phys, kHeaderLength);
    if (h == nullptr || !bytes_equal(h, "APIC", 4)) continue;
    if (++candidates > kMaxMadtCandidates) break;
    uint32_t len = 0;
    const unsigned char* t = r.table(phys, &len);
    if (t != nullptr && len >= kMadtEntries) {
      madt = t;
      madt_len = len;
      out.madt = phys;
      break;
    }
  }
  if (madt == nullptr) {
    out.error = "no valid MADT (signature APIC) in the root table";
    return false;
  }
  out.lapic_address = u32(madt, 36);
  out.pcat_compat = u32(madt, 40) & 1;
  for (size_t off = kMadtEntries; off + 2 <= madt_len;) {
    const uint8_t type = u8(madt, off), len = u8(madt, off + 1);
    if (len < 2 || off + len > madt_len) break;  // malformed: stop at the bad entry
    const unsigned char* e = madt + off;
    if (type == 0 && len >= 8) {  // processor local APIC: uid u8, id u8, flags u32
      add_cpu(out, u8(e, 3), u8(e, 2), u32(e, 4), false);
    } else if (type == 9 && len >= 16) {  // processor local x2APIC: id u32, flags u32, uid u32
      add_cpu(out, u32(e, 4), u32(e, 12), u32(e, 8), true);
    } else if (type == 5 && len >= 12) {  // local APIC address override
      out.lapic_address = u64(e, 4);
    }
    off += len;
  }
  if (out.cpu_count == 0) {
    out.error = "the MADT lists no enabled processor";
    return false;
  }
  return true;
}

}  // namespace pf::arch
