// reclaim.cpp — see reclaim.hpp; also the `test`-mode case that checks it. The "still reserved" figures come from two
// places: frames the allocator manages but keeps Reserved (descriptors, the
// reclaimable classes not yet handed back) are counted from its descriptors
// by reason; everything it never manages (kernel image, modules, ACPI NVS,
// the low MiB, firmware-reserved ranges, bad memory) from the normalised map.
#include "kernel/reclaim.hpp"

#include "kernel/mm/pfalloc.h"
#include "tests/conformance/facade.hpp"

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

// In `test` mode (registered like a conformance case, but compiled into the
// kernel only): both classes were handed back, exactly the frames the map
// gave them, and none is left reserved; the loader's info structure, if it
// lay above the low MiB, is ordinary memory now.
PF_CONFORMANCE_CASE(kernel_memory_handed_back) {
  Kernel& k = kernel();
  const HandedBack& h = g_handed_back;
  PF_CHECK(ctx, h.bootloader_done && h.acpi_done);
  uint64_t loader = 0, acpi = 0, reserved_left = 0, unmanaged = 0;
  for (const MapEntry& e : k.map.entries()) {
    if (e.type != RegionType::BootloaderReclaimable && e.type != RegionType::AcpiReclaimable) continue;
    (e.type == RegionType::AcpiReclaimable ? acpi : loader) += e.frames();
    for (uint64_t p = e.first_pfn().value; p < e.end_pfn().value; ++p) {
      const FrameDescriptor* d = k.pages.descriptor(Pfn{p});
      if (d == nullptr) ++unmanaged;
      else if (frame_state(*d) == FrameState::Reserved) ++reserved_left;
    }
  }
  PF_CHECK(ctx, unmanaged == 0);
  PF_CHECK(ctx, reserved_left == 0);
  // The boot tables went back on their own (build_address_space), the rest here.
  PF_CHECK(ctx, loader == h.bootloader_frames + k.boot_frames_released);
  PF_CHECK(ctx, acpi == h.acpi_frames);
  PF_CHECK(ctx, k.pages.reserved_frames(kReservedBootloaderReclaimable) == 0);
  PF_CHECK(ctx, k.pages.reserved_frames(kReservedAcpiReclaimable) == 0);
  PF_CHECK(ctx, pf_release_reserved(PF_REGION_BOOTLOADER_RECLAIMABLE) == 0);
  PF_CHECK(ctx, pf_release_reserved(PF_REGION_ACPI_RECLAIMABLE) == 0);
  const uint64_t low_end = page_up(k.map.options().low_reserved_end);
  if (k.boot.info_phys >= low_end) {
    for (uint64_t p = k.boot.info_phys >> kPageShift; p < page_up(k.boot.info_phys + k.boot.info_size) >> kPageShift; ++p) {
      const FrameDescriptor* d = k.pages.descriptor(Pfn{p});
      // Shared with a module or the image, a frame stays theirs (unmanaged).
      PF_CHECK(ctx, d == nullptr || frame_state(*d) != FrameState::Reserved);
    }
  }
}

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
  row(t, "hot-add metadata (inside the added ranges)", k.pages.reserved_frames(kReservedHotplugMeta));
  row(t, "bootloader-reclaimable, not handed back", k.pages.reserved_frames(kReservedBootloaderReclaimable));
  row(t, "acpi-reclaimable, not handed back", k.pages.reserved_frames(kReservedAcpiReclaimable));
  row(t, "acpi-nvs", nvs);
  row(t, "low memory (below low_reserved_end)", low);
  row(t, "firmware-reserved (RAM or device memory)", firmware);
  row(t, "bad", bad);
  // Above 4 GiB, what add_high_memory could not hand over (none on QEMU).
  if (k.high.refused_frames != 0) row(t, "usable above 4 GiB, refused by add_memory", k.high.refused_frames);
  if (k.high.unmanaged_frames != 0) row(t, "reclaimable above 4 GiB, not managed", k.high.unmanaged_frames);
}

}  // namespace pf::kernel
