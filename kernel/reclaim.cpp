// reclaim.cpp — see reclaim.hpp. The "still reserved" figures come from two
// places: frames the allocator manages but keeps Reserved (descriptors, the
// reclaimable classes not yet handed back) are counted from its descriptors
// by reason; everything it never manages (kernel image, modules, ACPI NVS,
// the low MiB, firmware-reserved ranges, bad memory) from the normalised map.
#include "kernel/reclaim.hpp"

#include "kernel/mm/pfalloc.h"

namespace pf::kernel {

namespace {

HandedBack g_handed_back;

constexpr uint64_t page_down(uint64_t a) { return a & ~(kPageSize - 1); }
constexpr uint64_t page_up(uint64_t a) { return (a + kPageSize - 1) & ~(kPageSize - 1); }

// Frames of [a, b) inside [c, d) (all page aligned).
uint64_t overlap_frames(uint64_t a, uint64_t b, uint64_t c, uint64_t d) {
  const uint64_t lo = a > c ? a : c, hi = b < d ? b : d;
  return lo < hi ? (hi - lo) >> kPageShift : 0;
}

void row(TextBuffer& t, const char* what, uint64_t frames) {
  t.str("  ").str_w(what, -42).dec_w(frames, 9).str(frames == 1 ? " frame  (" : " frames (")
      .size(frames << kPageShift).ch(')').nl();
}

}  // namespace

uint64_t hand_back(Kernel& k, RegionType type) {
  (void)k;  // the allocator behind the C API is k.pages
  const bool acpi = type == RegionType::AcpiReclaimable;
  const uint64_t frames = pf_release_reserved(static_cast<unsigned>(type));
  (acpi ? g_handed_back.acpi_frames : g_handed_back.bootloader_frames) += frames;
  (acpi ? g_handed_back.acpi_done : g_handed_back.bootloader_done) = true;
  LogLine().text().str("handed back: ").dec(frames).str(frames == 1 ? " frame (" : " frames (")
      .size(frames << kPageShift).str(") of ").str(region_type_name(type))
      .str(acpi ? " memory (ACPI tables)" : " memory (loader code and data, boot information)").nl();
  return frames;
}

const HandedBack& handed_back() { return g_handed_back; }

void format_reserved(const Kernel& k, TextBuffer& t) {
  t.nl().str("== memory handed back, and what stays reserved").nl();
  const HandedBack& h = g_handed_back;
  t.str("handed back after boot:").nl();
  row(t, "boot page tables and 32-bit entry code", k.boot_frames_released);
  row(t, h.bootloader_done ? "bootloader-reclaimable" : "bootloader-reclaimable (not called)",
      h.bootloader_frames);
  row(t, h.acpi_done ? "acpi-reclaimable" : "acpi-reclaimable (not called)", h.acpi_frames);

  uint64_t image = 0, modules = 0, nvs = 0, low = 0, firmware = 0, bad = 0;
  const uint64_t low_end = page_up(k.map.options().low_reserved_end);
  for (const MapEntry& e : k.map.entries()) {
    const uint64_t base = e.base.value, end = e.end.value;
    switch (e.type) {
      case RegionType::Kernel: {
        uint64_t in_modules = 0;
        for (size_t i = 0; i < k.boot.module_count; ++i) {
          const boot::BootModule& m = k.boot.modules[i];
          in_modules += overlap_frames(base, end, page_down(m.start), page_up(m.end));
        }
        if (in_modules > e.frames()) in_modules = e.frames();  // overlapping modules
        modules += in_modules;
        image += e.frames() - in_modules;
        break;
      }
      case RegionType::AcpiNvs: nvs += e.frames(); break;
      case RegionType::Reserved: {
        const uint64_t below = overlap_frames(base, end, 0, low_end);
        low += below;
        firmware += e.frames() - below;
        break;
      }
      case RegionType::Bad: bad += e.frames(); break;
      case RegionType::Usable:
      case RegionType::BootloaderReclaimable:
      case RegionType::AcpiReclaimable: break;  // managed: counted by the allocator below
    }
  }
  t.str("still reserved, by reason:").nl();
  row(t, "kernel image", image);
  row(t, "modules", modules);
  row(t, "descriptors and per-CPU caches (bootmem)", k.pages.reserved_frames(kReservedByBootmem));
  row(t, "bootloader-reclaimable, not handed back", k.pages.reserved_frames(kReservedBootloaderReclaimable));
  row(t, "acpi-reclaimable, not handed back", k.pages.reserved_frames(kReservedAcpiReclaimable));
  row(t, "acpi-nvs", nvs);
  row(t, "low memory (below the first MiB)", low);
  row(t, "firmware-reserved (RAM or device memory)", firmware);
  row(t, "bad", bad);
}

}  // namespace pf::kernel
