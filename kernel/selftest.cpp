// selftest.cpp — `test` mode: every registered conformance case (the same
// source GoogleTest runs, tests/conformance/), then the tests only a booted
// kernel can do, then the summary line and the exit code.
//
// Runner rule, checked after every case: with the per-CPU page caches
// drained and empty slabs given back, the free-frame count equals the count
// before the case, and PageAllocator::verify() and SlabAllocator::verify()
// are clean. A pfalloc error a case did not ask for (its own handler not
// installed) is recorded as a failure of that case, not a crash.
//
// Skips, each "[SKIP] name: why" with the figures, never counted as passed:
// a case whose one big block no free block can hold (machine_too_small,
// before it runs); a case stopped by a refusal the allocator's rules allow
// (Context::judge_no_memory = conformance::judge_no_memory_by_the_rules:
// no room even after every cache is drained and shrunk), provided every
// check before it passed and the runner rule holds; the cases of a CPU the
// machine had no memory to start (Smp::not_started_no_memory); the cases
// that need a local APIC on a CPU without one.
//
// Output: "[ OK ] name" or "[FAIL] name: what at file:line" per case; the
// last line is "N passed, M failed"; the exit code is ExitCode::Success
// exactly when M == 0 (and N > 0), ExitCode::TestsFailed otherwise.
#include <atomic>
#include <new>

#include "kernel/arch/x86_64/apic.hpp"
#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/idt.hpp"
#include "kernel/arch/x86_64/layout.hpp"
#include "kernel/arch/x86_64/paging.hpp"
#include "kernel/arch/x86_64/percpu.hpp"
#include "kernel/arch/x86_64/timing.hpp"
#include "kernel/kernel.hpp"
#include "kernel/mm/error.hpp"
#include "kernel/mm/text.hpp"
#include "tests/conformance/facade.hpp"

namespace pf::kernel {

namespace {

using conformance::Context;

constexpr unsigned kMaxFailureLinesPerCase = 8;
constexpr uint64_t kSeedBase = 0x5eed0000;

struct RunState {
  unsigned passed = 0, failed = 0, skipped = 0;
  const char* current = "";
  unsigned unexpected_errors = 0;
  unsigned lines_printed = 0;
};
RunState g_run;

void failure_line(const char* name, const char* what, const char* file, int line, uint64_t seed) {
  if (++g_run.lines_printed > kMaxFailureLinesPerCase) return;
  LogLine l;
  l->str("[FAIL] ").str(name).str(": ").str(what);
  if (file != nullptr) l->str(" at ").str(file).ch(':').dec(static_cast<uint64_t>(line));
  l->str(" (seed ").hex(seed).str(")").nl();
}

void on_check_failure(const Context& ctx, const char* expr, const char* file, int line) {
  failure_line(ctx.case_name, expr, file, line, ctx.seed);
}

void on_unexpected_error(const ErrorReport& r, void*) {
  ++g_run.unexpected_errors;
  if (++g_run.lines_printed > kMaxFailureLinesPerCase) return;
  LogLine l;
  l->str("[FAIL] ").str(g_run.current).str(": unexpected ").str(r.message ? r.message : error_name(r.code)).nl();
}

// CPU i runs (a tiny machine may not have started every CPU it found:
// Smp::not_started_no_memory).
bool online(unsigned i) { return arch::g_cpus[i].state.load() == arch::CpuState::Online; }

// Empty slabs back to the buddy, per-CPU page caches drained.
uint64_t settled_free_frames(Kernel& k) {
  k.slab.shrink_all();
  k.pages.drain_cpu_caches();
  return k.pages.counters().free_frames;
}

// Why the machine cannot hold what case `name` asks for, or nullptr (below,
// after the cases' types).
const char* machine_too_small(Kernel& k, const char* name);

void run_case(Kernel& k, const char* name, conformance::CaseFn fn, uint64_t seed) {
  g_run.current = name;
  g_run.unexpected_errors = 0;
  g_run.lines_printed = 0;
  arch::set_fault_context(name);
  const uint64_t before = settled_free_frames(k);
  if (const char* why = machine_too_small(k, name)) {
    ++g_run.skipped;
    LogLine().text().str("[SKIP] ").str(name).str(": ").str(why).nl();
    arch::set_fault_context(nullptr);
    return;
  }

  Context ctx{k.pages, &k.slab, seed, name};
  ctx.on_failure = &on_check_failure;
  // A refused request may be the machine's size (tiny machines, many CPUs):
  // judged against the free lists, a skip only when the rules allow it.
  ctx.judge_no_memory = &conformance::judge_no_memory_by_the_rules;
  const ErrorHandlerSlot old = set_error_handler(&on_unexpected_error, nullptr);
  fn(ctx);

  const uint64_t after = settled_free_frames(k);
  bool rule_ok = true;
  if (after != before) {
    rule_ok = false;
    char text[160];
    TextBuffer t(text, sizeof text);
    t.str("free frames ").dec(before).str(" before the case, ").dec(after).str(" after it (drained)");
    failure_line(name, t.c_str(), nullptr, 0, seed);
  }
  if (ctx.checks == 0) {
    rule_ok = false;
    failure_line(name, "the case checked nothing (a case that checks nothing cannot fail)", nullptr, 0, seed);
  }
  if (!k.pages.verify()) {
    rule_ok = false;
    failure_line(name, "PageAllocator::verify() failed after the case", nullptr, 0, seed);
  }
  if (!k.slab.verify()) {
    rule_ok = false;
    failure_line(name, "SlabAllocator::verify() failed after the case", nullptr, 0, seed);
  }
  set_error_handler(old.handler, old.context);
  arch::set_fault_context(nullptr);

  if (ctx.failures == 0 && g_run.unexpected_errors == 0 && rule_ok && ctx.skip_reason != nullptr) {
    // Stopped by a refusal the rules allow, and clean otherwise (nothing
    // leaked, verify() clean, every check before it passed).
    ++g_run.skipped;
    LogLine().text().str("[SKIP] ").str(name).str(": ").str(ctx.skip_reason).nl();
  } else if (ctx.failures == 0 && g_run.unexpected_errors == 0 && rule_ok) {
    ++g_run.passed;
    LogLine().text().str("[ OK ] ").str(name).nl();
  } else {
    if (ctx.skip_reason != nullptr) failure_line(name, ctx.skip_reason, nullptr, 0, seed);
    ++g_run.failed;
    if (g_run.lines_printed > kMaxFailureLinesPerCase) {
      LogLine().text().str("[FAIL] ").str(name).str(": ")
          .dec(g_run.lines_printed - kMaxFailureLinesPerCase).str(" more failures not shown").nl();
    }
  }
}

// ---- an error recorder for the misuse tests ----------------------------------

struct Recorder {
  static constexpr size_t kCapacity = 16;
  ErrorCode codes[kCapacity];
  size_t count = 0;
  ErrorHandlerSlot old{};
  void install() {
    count = 0;
    old = set_error_handler(&Recorder::record, this);
  }
  void remove() { set_error_handler(old.handler, old.context); }
  static void record(const ErrorReport& r, void* self) {
    auto* me = static_cast<Recorder*>(self);
    if (me->count < kCapacity) me->codes[me->count] = r.code;
    ++me->count;
  }
  // Exactly one report since the last take(), and it was `code`.
  bool take(ErrorCode code) {
    const bool ok = count == 1 && codes[0] == code;
    count = 0;
    return ok;
  }
};

// ---- kernel-only tests -----------------------------------------------------------

// Every free frame, allocated, patterned through the direct map, read back,
// freed. Blocks are chained through their first frame (words 0 and 1).
struct ChainHeader {
  uint64_t next;
  uint64_t order;
};

// Blocks held by a test, chained through their own first bytes (so holding
// all of memory costs no memory).
struct BlockChain {
  PageAllocator& pages;
  uint64_t head = 0, frames = 0, blocks = 0;

  void push(PhysAddr p, unsigned order) {
    auto* h = pages.to_virt<ChainHeader>(p);
    h->next = head;
    h->order = order;
    head = p.value;
    frames += uint64_t{1} << order;
    ++blocks;
  }
  // Takes every frame this CPU can reach, largest blocks first, every zone.
  // The CPUs' caches are drained once before and once between two passes,
  // and the passes ask with __GFP_NORETRY: the last, failing request of
  // each of the 33 zone and order steps would otherwise drain every CPU's
  // cache (a stop of each, n + 1 syncs, while the ticks of
  // smp_ticks_out_of_memory allocate on every CPU): at -smp 64 under TCG
  // that case took 52 s, under 1 s with two drains. The second pass takes
  // what ticks on other CPUs cached meanwhile.
  void take_all() {
    for (int pass = 0; pass < 2; ++pass) {
      pages.drain_cpu_caches();
      for (gfp_t flags : {gfp_t{GFP_KERNEL}, gfp_t{__GFP_DMA32}, gfp_t{__GFP_DMA}}) {
        for (int order = kMaxOrder; order >= 0; --order) {
          const Order o{static_cast<unsigned>(order)};
          for (PhysAddr p; !(p = pages.alloc_pages(o, flags | __GFP_NOWARN | __GFP_NORETRY)).is_null();)
            push(p, o.value);
        }
      }
    }
  }
  void free_all() {
    while (head != 0) {
      const ChainHeader h = *pages.to_virt<ChainHeader>(PhysAddr{head});
      pages.free_pages(PhysAddr{head}, Order{static_cast<unsigned>(h.order)});
      head = h.next;
    }
    frames = blocks = 0;
  }
};

uint64_t pattern(uint64_t pfn, unsigned slot, uint64_t seed) {
  return (pfn * 0x9E3779B97F4A7C15ull) ^ (uint64_t{slot + 1} * 0xD6E8FEB86659FD93ull) ^ seed;
}
constexpr unsigned kPatternWords[] = {2, 257, 511};

void test_all_frames_pattern(Context& ctx) {
  Kernel& k = kernel();
  PageAllocator& pages = k.pages;
  const uint64_t free_before = pages.counters().free_frames;
  BlockChain held{pages};
  held.take_all();
  const uint64_t head = held.head, frames = held.frames, blocks = held.blocks;
  PF_CHECK(ctx, pages.counters().free_frames == 0);
  PF_CHECK(ctx, frames == free_before);

  for (uint64_t b = head; b != 0; b = pages.to_virt<ChainHeader>(PhysAddr{b})->next) {
    const uint64_t n = uint64_t{1} << pages.to_virt<ChainHeader>(PhysAddr{b})->order;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t pfn = (b >> kPageShift) + i;
      auto* w = pages.to_virt<uint64_t>(PhysAddr{pfn << kPageShift});
      for (unsigned s = 0; s < 3; ++s) w[kPatternWords[s]] = pattern(pfn, s, ctx.seed);
    }
  }
  uint64_t mismatches = 0, checked = 0;
  for (uint64_t b = head; b != 0; b = pages.to_virt<ChainHeader>(PhysAddr{b})->next) {
    const uint64_t n = uint64_t{1} << pages.to_virt<ChainHeader>(PhysAddr{b})->order;
    for (uint64_t i = 0; i < n; ++i) {
      const uint64_t pfn = (b >> kPageShift) + i;
      const auto* w = pages.to_virt<const uint64_t>(PhysAddr{pfn << kPageShift});
      for (unsigned s = 0; s < 3; ++s) {
        ++checked;
        if (w[kPatternWords[s]] != pattern(pfn, s, ctx.seed) && ++mismatches == 1) {
          LogLine().text().str("    first mismatch: frame ").hex(pfn).str(" word ").dec(kPatternWords[s]).nl();
        }
      }
    }
  }
  PF_CHECK(ctx, mismatches == 0);
  PF_CHECK(ctx, checked == 3 * frames);

  uint64_t freed = 0;
  for (uint64_t b = head; b != 0;) {
    const ChainHeader h = *pages.to_virt<ChainHeader>(PhysAddr{b});
    pages.free_pages(PhysAddr{b}, Order{static_cast<unsigned>(h.order)});
    freed += uint64_t{1} << h.order;
    b = h.next;
  }
  PF_CHECK(ctx, freed == frames);
  pages.drain_cpu_caches();
  PF_CHECK(ctx, pages.counters().free_frames == free_before);
  LogLine().text().str("    ").dec(frames).str(" frames (").size(frames * kPageSize).str(") in ")
      .dec(blocks).str(" blocks, ").dec(checked).str(" words checked").nl();
}

// Whether a leaf's executability is as meant. Without NX (no CPUID
// 0x80000001 EDX bit 20: -cpu qemu64,-nx, old CPUs) EFER.NXE stays off and
// PTE bit 63 is reserved: every page is executable, and must be, since a
// set bit 63 would fault as a reserved bit. W^X then holds for writes only.
bool exec_as_meant(bool executable, bool meant) { return executable == (meant || !kernel().nx); }

// The direct map covers exactly the planned RAM ranges, at phys + base,
// never executable, writable except the image's read-only alias; the map's
// own entries agree frame by frame at their edges; frame 0, holes and
// non-RAM entries are unmapped; the low half (the old identity map) is empty.
void test_direct_map_exact(Context& ctx) {
  Kernel& k = kernel();
  const uint64_t root = arch::read_cr3() & arch::kPteAddrMask;
  PF_CHECK(ctx, root == k.address_space_root);
  const uintptr_t off = arch::kDirectMapBase;

  size_t next_range = 0;
  uint64_t run_begin = 0, run_end = 0, leaves = 0;
  bool bad_translation = false, bad_perm = false, range_mismatch = false;
  auto close_run = [&]() {
    if (run_end == run_begin) return;
    if (next_range >= k.direct_map_count || k.direct_map[next_range].base != run_begin ||
        k.direct_map[next_range].end != run_end) {
      if (!range_mismatch) {
        LogLine().text().str("    mapped run [").hex(run_begin).str(", ").hex(run_end)
            .str(") is not planned range ").dec(next_range).nl();
      }
      range_mismatch = true;
    }
    ++next_range;
  };
  arch::walk_leaves(root, off, arch::kDirectMapBase, arch::kDirectMapEnd, [&](const arch::Leaf& l) {
    ++leaves;
    const uint64_t phys = l.virt - arch::kDirectMapBase;
    if (l.phys != phys) bad_translation = true;
    const bool in_ro = phys >= k.readonly_alias.base && phys < k.readonly_alias.end;
    if (!exec_as_meant(l.executable, false) || l.writable == in_ro) bad_perm = true;
    if (phys == run_end && run_end != run_begin) {
      run_end += l.size;
    } else {
      close_run();
      run_begin = phys;
      run_end = phys + l.size;
    }
  });
  close_run();
  PF_CHECK(ctx, !bad_translation);
  PF_CHECK(ctx, !bad_perm);
  PF_CHECK(ctx, !range_mismatch);
  PF_CHECK(ctx, next_range == k.direct_map_count);
  PF_CHECK(ctx, leaves > 0);

  // Independently of the plan: each map entry's first and last frame.
  uint64_t prev_end = 0;
  for (const MapEntry& e : k.map.entries()) {
    const bool ram = is_direct_mapped_type(e.type);
    for (uint64_t p : {e.base.value, e.end.value - kPageSize}) {
      const arch::Translation t = arch::translate(root, off, off + p);
      const bool expect = ram && p != 0;
      if (!PF_CHECK(ctx, t.present == expect)) {
        LogLine().text().str("    phys ").hex(p).str(" (").str(region_type_name(e.type)).str(") is ")
            .str(t.present ? "mapped" : "not mapped").nl();
      }
    }
    if (e.base.value > prev_end) {  // a hole: its first and last frame
      PF_CHECK(ctx, !arch::translate(root, off, off + prev_end).present);
      PF_CHECK(ctx, !arch::translate(root, off, off + e.base.value - kPageSize).present);
    }
    prev_end = e.end.value;
  }
  PF_CHECK(ctx, !arch::translate(root, off, off).present);  // frame 0
  // Past the last entry: nothing.
  PF_CHECK(ctx, !arch::translate(root, off, off + prev_end).present);

  const auto* pml4 = reinterpret_cast<const uint64_t*>(root + off);
  unsigned low_present = 0;
  for (unsigned i = 0; i < 256; ++i) low_present += (pml4[i] & arch::kPtePresent) ? 1 : 0;
  PF_CHECK(ctx, low_present == 0);
}

// The kernel image: text R+X, rodata R, data and bss R+W, nothing else at the
// top of the address space; no page anywhere both writable and executable.
void test_image_wx(Context& ctx) {
  Kernel& k = kernel();
  const uint64_t root = k.address_space_root;
  const uint64_t text = arch::sym(__text_start), text_end = arch::sym(__text_end);
  const uint64_t ro = arch::sym(__rodata_start), ro_end = arch::sym(__rodata_end);
  const uint64_t data = arch::sym(__data_start), bss_end = arch::sym(__bss_end);
  const uint64_t guard1 = arch::sym(kernel_stack_guard), guard2 = arch::sym(fault_stack_guard);
  uint64_t pages = 0, wrong = 0, outside = 0, guards = 0, wx = 0;
  arch::walk_leaves(root, arch::kDirectMapBase, arch::kKernelVma, ~uint64_t{0}, [&](const arch::Leaf& l) {
    ++pages;
    if (l.size != arch::k4KiB) ++wrong;
    if (l.phys != arch::kernel_virt_to_phys(l.virt)) ++wrong;
    if (l.virt == guard1 || l.virt == guard2) ++guards;
    if (l.virt >= text && l.virt < text_end) {
      if (l.writable || !exec_as_meant(l.executable, true)) ++wrong;
    } else if (l.virt >= ro && l.virt < ro_end) {
      if (l.writable || !exec_as_meant(l.executable, false)) ++wrong;
    } else if (l.virt >= data && l.virt < bss_end) {
      if (!l.writable || !exec_as_meant(l.executable, false)) ++wrong;
    } else {
      ++outside;
    }
  });
  const uint64_t expected = (bss_end - text) / kPageSize - 2 /* guards */ -
                            (data - ro_end) / kPageSize /* gap, if any */ -
                            (ro - text_end) / kPageSize;
  PF_CHECK(ctx, wrong == 0);
  PF_CHECK(ctx, outside == 0);
  PF_CHECK(ctx, guards == 0);
  PF_CHECK(ctx, pages == expected);
  arch::walk_leaves(root, arch::kDirectMapBase, 0, ~uint64_t{0}, [&](const arch::Leaf& l) {
    // Without NX: no level of any leaf's walk may set the reserved bit 63.
    if (k.nx ? l.writable && l.executable : !l.executable) ++wx;
  });
  PF_CHECK(ctx, wx == 0);
}

// What the tables promise, tried on the CPU: each forbidden access faults
// (caught by the probes), each allowed one does not.
uint8_t g_ret_in_data = 0xC3;  // `ret`, in .data: must not execute

void test_fault_probes(Context& ctx) {
  Kernel& k = kernel();
  const uintptr_t dm = arch::kDirectMapBase;
  auto* text = __text_start;
  auto* text_alias = reinterpret_cast<char*>(dm + arch::kernel_virt_to_phys(arch::sym(__text_start)));
  const auto write_fault = [&](void* p) {
    return arch_probe_write(p) == 1 && (arch::last_probe_fault().error_code & 0x3) == 0x3 &&
           arch::last_probe_fault().address == reinterpret_cast<uint64_t>(p);
  };
  // Positive controls: the probes do report success.
  PF_CHECK(ctx, arch_probe_read(text) == 0);
  PF_CHECK(ctx, arch_probe_exec(reinterpret_cast<const void*>(&arch_ret_instruction)) == 0);
  PF_CHECK(ctx, arch_probe_write(&g_ret_in_data) == 0);
  PF_CHECK(ctx, arch_probe_read(text_alias) == 0);
  // W^X on the image and its direct-map alias.
  PF_CHECK(ctx, write_fault(text));
  PF_CHECK(ctx, write_fault(__rodata_start));
  PF_CHECK(ctx, write_fault(text_alias));
  if (k.nx) {
    PF_CHECK(ctx, arch_probe_exec(&g_ret_in_data) == 1 && (arch::last_probe_fault().error_code & 0x10));
    const auto* ret_alias = reinterpret_cast<const void*>(
        dm + arch::kernel_virt_to_phys(reinterpret_cast<uint64_t>(&arch_ret_instruction)));
    PF_CHECK(ctx, arch_probe_exec(ret_alias) == 1);
  }
  // Unmapped: frame 0, the stack guards, the old identity map, holes and
  // non-RAM entries of the map.
  PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(dm)) == 1);
  PF_CHECK(ctx, arch_probe_read(kernel_stack_guard) == 1);
  PF_CHECK(ctx, arch_probe_read(fault_stack_guard + kPageSize - 1) == 1);
  PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(k.boot_region.base)) == 1);
  PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(0x1000)) == 1);
  uint64_t prev_end = 0, probed = 0;
  for (const MapEntry& e : k.map.entries()) {
    if (e.base.value > prev_end) {
      PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(dm + prev_end)) == 1);
      ++probed;
    }
    if (!is_direct_mapped_type(e.type)) {
      PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(dm + e.base.value)) == 1);
      ++probed;
    }
    prev_end = e.end.value;
  }
  PF_CHECK(ctx, probed > 0);
  // Every RAM range is really there, first and last byte.
  for (size_t i = 0; i < k.direct_map_count; ++i) {
    PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(dm + k.direct_map[i].base)) == 0);
    PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(dm + k.direct_map[i].end - 1)) == 0);
  }
}

// The boot tables and the 32-bit entry code went back to the allocator.
void test_boot_region_released(Context& ctx) {
  Kernel& k = kernel();
  const uint64_t frames = (k.boot_region.end - k.boot_region.base) >> kPageShift;
  PF_CHECK(ctx, frames > 0);
  PF_CHECK(ctx, k.boot_frames_released == frames);
  uint64_t still_reserved = 0, unmanaged = 0;
  for (uint64_t i = 0; i < frames; ++i) {
    const FrameDescriptor* d = k.pages.descriptor(Pfn{(k.boot_region.base >> kPageShift) + i});
    if (d == nullptr) ++unmanaged;
    else if (frame_state(*d) == FrameState::Reserved) ++still_reserved;
  }
  PF_CHECK(ctx, unmanaged == 0);
  PF_CHECK(ctx, still_reserved == 0);
}

// Every frame of a managed type in the memory map is managed, in the right
// zone, with its metadata where the boot sequence promised (main.cpp): below
// 4 GiB for what init took, inside the range itself above (hot-added); the
// allocator's totals equal the map's, zone by zone, and verify() agrees.
void test_memory_accounted(Context& ctx) {
  Kernel& k = kernel();
  PageAllocator& pages = k.pages;
  const uint64_t limit = arch::kBootDirectMapLimit;
  uint64_t in_map = 0, high_usable = 0, undescribed = 0;
  uint64_t by_zone[kZoneCount] = {};
  for (const MapEntry& e : k.map.entries()) {
    if (!region_is_managed(e.type)) continue;
    in_map += e.frames();
    if (e.type == RegionType::Usable && e.end.value > limit)
      high_usable += (e.end.value - (e.base.value > limit ? e.base.value : limit)) >> kPageShift;
    for (uint64_t p = e.first_pfn().value; p < e.end_pfn().value;) {  // frames per zone
      const uint64_t end = zone_end_pfn(p) < e.end_pfn().value ? zone_end_pfn(p) : e.end_pfn().value;
      by_zone[static_cast<unsigned>(zone_for(p))] += end - p;
      p = end;
    }
    for (uint64_t p : {e.first_pfn().value, e.end_pfn().value - 1})
      if (pages.descriptor(Pfn{p}) == nullptr) ++undescribed;
  }
  PF_CHECK(ctx, undescribed == 0);
  PF_CHECK(ctx, k.high.refused_frames == 0 && k.high.unmanaged_frames == 0);
  PF_CHECK(ctx, k.high.added_frames == high_usable);
  PF_CHECK(ctx, (k.high.ranges != 0) == (high_usable != 0));
  pages.drain_cpu_caches();
  const PageCounters c = pages.counters();
  PF_CHECK(ctx, c.managed_frames + c.reserved_frames == in_map);
  for (unsigned z = 0; z < kZoneCount; ++z) {
    const PageCounters zc = pages.zone_counters(static_cast<Zone>(z));
    if (!PF_CHECK(ctx, zc.managed_frames + zc.reserved_frames == by_zone[z]))
      LogLine().text().str("    zone ").dec(z).str(": allocator ").dec(zc.managed_frames + zc.reserved_frames)
          .str(" frames, map ").dec(by_zone[z]).nl();
  }
  PF_CHECK(ctx, pages.hotplug_meta_frames() == pages.reserved_frames(kReservedHotplugMeta));
  PF_CHECK(ctx, (pages.hotplug_meta_frames() != 0) == (high_usable != 0));
  uint64_t misplaced = 0;
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const PageAllocator::RangeInfo r = pages.range_info(i);
    if (r.zone != zone_for(to_pfn(r.base).value) || to_pfn(r.end).value > zone_end_pfn(to_pfn(r.base).value))
      ++misplaced;
    // A hot-added range's descriptors lie in its own first frames (those of
    // the first piece, when add_memory cut it), never below the limit.
    const bool high = r.base.value >= limit;
    if (high ? r.descriptors.value < limit || r.descriptors.value >= r.end.value
             : r.descriptors.value + r.descriptor_bytes > limit)
      ++misplaced;
  }
  PF_CHECK(ctx, misplaced == 0);
  PF_CHECK(ctx, pages.verify());
}

// The C API of pfalloc.h reaches the same allocator the kernel set up.
void test_c_api(Context& ctx) {
  Kernel& k = kernel();
  const uint64_t before = k.pages.counters().free_frames;
  const pf_phys_t page = alloc_pages(1, GFP_DMA32 | __GFP_ZERO);
  if (!PF_CHECK_MEMORY(ctx, page != 0, conformance::MemoryNeed::block(1))) return;
  PF_CHECK(ctx, page % (2 * kPageSize) == 0 && page < 4 * GiB);
  PF_CHECK(ctx, k.pages.counters().free_frames == before - 2);
  auto* object = static_cast<uint64_t*>(kmalloc(64, GFP_KERNEL));
  if (!PF_CHECK_MEMORY(ctx, object != nullptr,
                       conformance::MemoryNeed::block(k.slab.kmalloc_cache_for(64)->min_slab_order(), true))) {
    free_pages(page, 1);
    return;
  }
  PF_CHECK(ctx, reinterpret_cast<uintptr_t>(object) % 64 == 0);
  PF_CHECK(ctx, k.slab.cache_of(object) == k.slab.kmalloc_cache_for(64));
  PF_CHECK(ctx, ksize(object) >= 64);
  kfree(object);
  if (page != 0) free_pages(page, 1);
  pf_counters c{};
  pf_get_counters(&c);
  PF_CHECK(ctx, c.managed_frames == k.pages.counters().managed_frames);
  PF_CHECK(ctx, pf_verify() == 0);
}

// Always-on page misuse classes, caught by a recording handler: each is
// reported by name, refused, and leaves the allocator as it was.
void test_page_misuse(Context& ctx) {
  Kernel& k = kernel();
  PageAllocator& pages = k.pages;
  Recorder rec;
  rec.install();
  const PhysAddr a = pages.alloc_pages(Order{0}, 0);
  if (!PF_CHECK_MEMORY(ctx, !a.is_null(), conformance::MemoryNeed::block(0))) {
    rec.remove();
    return;
  }
  const PhysAddr b = pages.alloc_pages(Order{2}, 0);
  if (!PF_CHECK_MEMORY(ctx, !b.is_null(), conformance::MemoryNeed::block(2))) {
    pages.free_pages(a, Order{0});
    rec.remove();
    return;
  }
  pages.free_pages(a, Order{0});
  pages.free_pages(a, Order{0});
  PF_CHECK(ctx, rec.take(ErrorCode::PageDoubleFree));
  pages.free_pages(PhysAddr{uint64_t{1} << 46}, Order{0});
  PF_CHECK(ctx, rec.take(ErrorCode::PageOutsideManaged));
  pages.free_pages(pages.range_info(0).descriptors, Order{0});
  PF_CHECK(ctx, rec.take(ErrorCode::PageReserved));
  pages.free_pages(b + 8, Order{0});
  PF_CHECK(ctx, rec.take(ErrorCode::PageMisaligned));
  pages.free_pages(b, Order{1});
  PF_CHECK(ctx, rec.take(ErrorCode::PageWrongOrder));
  pages.free_pages(b + kPageSize, Order{0});
  PF_CHECK(ctx, rec.take(ErrorCode::PageTailFrame));
  pages.free_pages(b, Order{kOrderCount});
  PF_CHECK(ctx, rec.take(ErrorCode::PageBadOrder));
  // Contiguous allocations are freed whole, by free_contig, or not at all.
  const PhysAddr c = pages.alloc_contig(3, ContigRequest{});
  if (PF_CHECK_MEMORY(ctx, !c.is_null(), conformance::MemoryNeed::contig(3))) {
    pages.free_contig(c, 2);
    PF_CHECK(ctx, rec.take(ErrorCode::ContigBadFree));
    pages.free_pages(c, Order{0});
    PF_CHECK(ctx, rec.take(ErrorCode::ContigBadFree));
    pages.free_contig(b, 4);
    PF_CHECK(ctx, rec.take(ErrorCode::ContigBadFree));
    pages.free_contig(c, 3);
  }
  PF_CHECK(ctx, pages.verify());
  pages.free_pages(b, Order{2});
  PF_CHECK(ctx, rec.count == 0);
  rec.remove();
}

// Always-on slab misuse classes.
void test_slab_misuse(Context& ctx) {
  Kernel& k = kernel();
  SlabAllocator& slab = k.slab;
  Recorder rec;
  rec.install();
  // Each request judged as it is refused (a tiny machine: a skip only when
  // the rules allow it, Context::out_of_memory); the misuse runs only with
  // all of them met, and whatever was met is freed below.
  using conformance::MemoryNeed;
  KmemCache* c = slab.cache_create("selftest-a", 64, 0, 0, nullptr);
  KmemCache* d = nullptr;
  PhysAddr page{};
  void* o = nullptr;
  void* keep = nullptr;
  bool ok = PF_CHECK_MEMORY(ctx, c != nullptr, MemoryNeed::cache(64, 0));
  if (ok) {
    d = slab.cache_create("selftest-b", 64, 0, 0, nullptr);
    ok = PF_CHECK_MEMORY(ctx, d != nullptr, MemoryNeed::cache(64, 0));
  }
  if (ok) {
    page = k.pages.alloc_pages(Order{0}, 0);
    ok = PF_CHECK_MEMORY(ctx, !page.is_null(), MemoryNeed::block(0));
  }
  if (ok) {
    o = slab.cache_alloc(c, 0);
    ok = PF_CHECK_MEMORY(ctx, o != nullptr, MemoryNeed::block(c->min_slab_order(), true));
  }
  if (ok) {
    keep = slab.cache_alloc(c, 0);
    ok = PF_CHECK_MEMORY(ctx, keep != nullptr, MemoryNeed::block(c->min_slab_order(), true));
  }
  if (!ok && o != nullptr) slab.cache_free(c, o);
  if (ok) {
    slab.cache_free(c, static_cast<std::byte*>(keep) + 8);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabNotObjectStart));
    slab.cache_free(d, keep);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabWrongCache));
    slab.cache_free(c, k.pages.to_virt(page));
    PF_CHECK(ctx, rec.take(ErrorCode::SlabNotSlabPage));
    slab.cache_free(c, o);
    slab.cache_free(c, o);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabDoubleFree));
    PF_CHECK(ctx, slab.verify());
    slab.cache_free(c, keep);
  }
  if (!page.is_null()) k.pages.free_pages(page, Order{0});
  if (c) PF_CHECK(ctx, slab.cache_destroy(c) == 0);
  if (d) PF_CHECK(ctx, slab.cache_destroy(d) == 0);
  PF_CHECK(ctx, rec.count == 0);
  rec.remove();
}

// Debug-mode object classes, on a SLAB_DEBUG cache (the per-cache form of
// the `slab-debug` boot option): overflow by 1 and by 8 bytes found at free,
// write after free found when the object is handed out again, delayed and
// immediate double frees refused, a corrupted freelist link found and
// repaired, a destroy with a live object listed. Each is reported by name
// and repaired or refused, so the cache is whole again afterwards.
void test_slab_debug_misuse(Context& ctx) {
  Kernel& k = kernel();
  SlabAllocator& slab = k.slab;
  Recorder rec;
  rec.install();
  KmemCache* c = slab.cache_create("selftest-debug", 24, 0, SLAB_DEBUG, nullptr);
  if (!PF_CHECK_MEMORY(ctx, c != nullptr, conformance::MemoryNeed::cache(24, 0, SLAB_DEBUG))) {
    rec.remove();
    return;
  }
  for (size_t past : {size_t{0}, size_t{7}}) {
    // (The first allocation grows the cache's one slab; every object after
    // it comes from that slab.)
    auto* p = static_cast<unsigned char*>(slab.cache_alloc(c, 0));
    if (!PF_CHECK_MEMORY(ctx, p != nullptr, conformance::MemoryNeed::block(c->min_slab_order(), true))) {
      PF_CHECK(ctx, slab.cache_destroy(c) == 0);
      rec.remove();
      return;
    }
    for (size_t i = 0; i < 24; ++i) p[i] = 0x11;  // the object itself is fine to write
    p[24 + past] = static_cast<unsigned char>(p[24 + past] ^ 0x5a);
    slab.cache_free(c, p);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabRedzoneOverwritten));
  }
  auto* a = static_cast<unsigned char*>(slab.cache_alloc(c, 0));
  auto* b = static_cast<unsigned char*>(slab.cache_alloc(c, 0));
  if (PF_CHECK(ctx, a != nullptr && b != nullptr)) {
    slab.cache_free(c, a);
    a[3] = static_cast<unsigned char>(a[3] ^ 0xff);  // write after free
    void* again = slab.cache_alloc(c, 0);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabWriteAfterFree));
    PF_CHECK(ctx, again == a);
    slab.cache_free(c, a);
    slab.cache_free(c, a);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabDoubleFree));
    slab.cache_free(c, b);
    slab.cache_free(c, a);  // b was freed since: a's double free is a delayed one
    PF_CHECK(ctx, rec.take(ErrorCode::SlabDelayedDoubleFree));
  }
  // Freelist links are stored encoded; a stray raw pointer over one is found
  // when the allocation walks it, and nothing is lost.
  constexpr size_t kObjects = 8;
  void* objs[kObjects] = {};
  size_t got = 0;
  while (got < kObjects && (objs[got] = slab.cache_alloc(c, 0)) != nullptr) ++got;
  if (PF_CHECK(ctx, got == kObjects)) {
    for (void* o : objs) slab.cache_free(c, o);
    auto* link = reinterpret_cast<uintptr_t*>(static_cast<char*>(objs[kObjects - 1]) + c->free_offset());
    PF_CHECK(ctx, *link != reinterpret_cast<uintptr_t>(objs[kObjects - 2]));  // not in the clear
    *link = reinterpret_cast<uintptr_t>(objs[0]);
    void* again[kObjects] = {};
    for (void*& o : again) o = slab.cache_alloc(c, 0);
    PF_CHECK(ctx, rec.take(ErrorCode::SlabFreelistCorrupted));
    unsigned matched = 0;
    for (void* o : objs)
      for (void* a : again) matched += (o == a) ? 1 : 0;
    PF_CHECK(ctx, matched == kObjects);
    for (void* o : again)
      if (o != nullptr) slab.cache_free(c, o);
  }
  // Destroying a cache with a live object lists it and retires the cache;
  // the late free still works and a second destroy finishes the job.
  void* live = slab.cache_alloc(c, 0);
  if (PF_CHECK(ctx, live != nullptr)) {
    PF_CHECK(ctx, slab.cache_destroy(c) == 1);
    PF_CHECK(ctx, rec.take(ErrorCode::CacheDestroyedWithLiveObjects));
    slab.cache_free(c, live);
  }
  PF_CHECK(ctx, slab.verify());
  PF_CHECK(ctx, slab.cache_destroy(c) == 0);
  PF_CHECK(ctx, rec.count == 0);
  rec.remove();
}

// The image's text and rodata: the same bytes as before the allocator existed.
void test_image_unchanged(Context& ctx) {
  const uint64_t now = fnv1a_words(__text_start, arch::sym(__rodata_end) - arch::sym(__text_start));
  PF_CHECK(ctx, now == kernel().image_checksum);
}

// Every module: the same bytes as at boot, and what its command line promised.
void test_modules_intact(Context& ctx) {
  Kernel& k = kernel();
  // Every module the loader listed has a baseline (none is lost on the way).
  PF_CHECK(ctx, k.module_count == k.boot.module_count);
  if (k.options.expect_module) PF_CHECK(ctx, k.module_count > 0);
  for (size_t i = 0; i < k.module_count; ++i) {
    const ModuleCheck& m = k.modules[i];
    const uint32_t crc = posix_cksum(k.pages.to_virt(PhysAddr{m.start}), m.end - m.start);
    PF_CHECK(ctx, crc == m.crc_at_boot);
    if (k.options.expect_module) PF_CHECK(ctx, m.has_expectation);
    if (m.has_expectation) {
      PF_CHECK(ctx, m.expected_len == m.end - m.start);
      PF_CHECK(ctx, m.expected_crc == crc);
    }
    LogLine().text().str("    module ").dec(i).str(" [").hex(m.start).str(", ").hex(m.end).str(") cksum ")
        .dec(crc).str(m.has_expectation ? (m.expected_crc == crc ? " as promised" : " NOT as promised") : "")
        .nl();
  }
}

// `fail-demo`: fails on purpose, so a run can prove that a failing case
// fails the run and is named.
void test_fail_demo(Context& ctx) {
  const int two = static_cast<int>(ctx.seed & 0) + 2;
  PF_CHECK(ctx, two + 2 == 5);
}


// ---- SMP --------------------------------------------------------------------

// Every CPU the firmware listed (up to the allocator's limit) is online, each
// with its own APIC id, GS base, ticking timer and mapped stacks whose guard
// pages are not mapped; the LAPIC page is mapped uncached; the trampoline
// went back to the allocator.
void test_smp_cpus_online(Context& ctx) {
  Kernel& k = kernel();
  const Smp& s = k.smp;
  // Every CPU is online but those the machine had no memory to start
  // (Smp::not_started_no_memory, checked against the free lists when it
  // happened); any other reason is a failure.
  PF_CHECK(ctx, s.error == nullptr || s.not_started_no_memory > 0);
  PF_CHECK(ctx, s.online + s.not_started_no_memory == s.cpu_count);
  PF_CHECK(ctx, s.cpu_count + s.cpus_without_caches ==
                    (s.found - s.unreachable > kMaxCpus ? kMaxCpus : s.found - s.unreachable));
  PF_CHECK(ctx, k.pages.cpu_count() == s.cpu_count);
  PF_CHECK(ctx, arch::this_cpu_index() == 0 && &arch::this_cpu() == &arch::g_cpus[0]);
  uint64_t ticks_before[kMaxCpus];
  for (unsigned i = 0; i < s.cpu_count; ++i) {
    const arch::PerCpu& c = arch::g_cpus[i];
    ticks_before[i] = 0;
    if (i != 0 && c.state.load() != arch::CpuState::Online && s.not_started_no_memory > 0) continue;
    PF_CHECK(ctx, c.state.load() == arch::CpuState::Online);
    PF_CHECK(ctx, c.self == &c && c.index == i);
    for (unsigned j = 0; j < i; ++j) PF_CHECK(ctx, arch::g_cpus[j].apic_id != c.apic_id);
    ticks_before[i] = c.timer_ticks.load();
    if (i == 0) continue;
    PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(c.stack_guard)) == 1);
    PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(c.ist_guard)) == 1);
    PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(c.stack_top - 8)) == 0);
    PF_CHECK(ctx, arch_probe_read(reinterpret_cast<const void*>(c.ist_top - 8)) == 0);
  }
  // Every timer ticks. Under TCG on a loaded host a vCPU may not run for a
  // while: wait until each has ticked twice more, for at most 5 s.
  const uint64_t deadline = arch::rdtsc() + arch::tsc_hz() * 5;
  for (bool all = false; !all && arch::rdtsc() < deadline;) {
    idle_wait();
    all = true;
    for (unsigned i = 0; i < s.cpu_count; ++i)
      all = all && (!online(i) || arch::g_cpus[i].timer_ticks.load() > ticks_before[i] + 1);
  }
  for (unsigned i = 0; i < s.cpu_count; ++i) {
    if (!online(i)) continue;
    if (!PF_CHECK(ctx, arch::g_cpus[i].timer_ticks.load() > ticks_before[i]))
      LogLine().text().str("    cpu ").dec(i).str(": its timer did not tick").nl();
  }
  // Between the direct map and the image: exactly the APs' stacks (4 KiB,
  // writable, never executable) and the LAPIC page.
  uint64_t leaves = 0, stray = 0;
  arch::walk_leaves(k.address_space_root, arch::kDirectMapBase, arch::kDirectMapEnd, arch::kKernelVma,
                    [&](const arch::Leaf& l) {
    ++leaves;
    bool known = l.virt == s.lapic_virt;
    for (unsigned i = 1; i < s.cpu_count && !known; ++i) {
      const arch::PerCpu& c = arch::g_cpus[i];
      known = (l.virt > c.stack_guard && l.virt < c.stack_top) || (l.virt > c.ist_guard && l.virt < c.ist_top);
    }
    if (!known || l.size != arch::k4KiB || !l.writable || !exec_as_meant(l.executable, false)) ++stray;
  });
  PF_CHECK(ctx, stray == 0);
  uint64_t stack_pages = 0;
  for (unsigned i = 1; i < s.cpu_count; ++i) {
    const arch::PerCpu& c = arch::g_cpus[i];
    if (!online(i)) continue;
    stack_pages += (c.stack_top - c.stack_guard + c.ist_top - c.ist_guard) / kPageSize - 2;
  }
  PF_CHECK(ctx, leaves == 1 + stack_pages);
  const arch::Translation t = arch::translate(k.address_space_root, arch::kDirectMapBase, s.lapic_virt);
  PF_CHECK(ctx, t.present && t.phys == s.lapic_phys && t.uncached && t.writable &&
                exec_as_meant(t.executable, false));
  PF_CHECK(ctx, s.lapic_phys == (arch::rdmsr(arch::kMsrApicBase) & ~uint64_t{0xfff}));
  if (s.cpu_count > 1 && s.online > 1) {
    PF_CHECK(ctx, s.trampoline_used != 0 && s.trampoline_used + 4 * kPageSize <= 1 * MiB);
    PF_CHECK(ctx, s.trampoline == 0);  // returned
    const FrameDescriptor* d = k.pages.descriptor(Pfn{s.trampoline_used >> kPageShift});
    PF_CHECK(ctx, d != nullptr && frame_state(*d) != FrameState::Reserved);
  }
}

// The cases that make sense on any CPU, run on each AP in turn (the others
// idle): the conformance suite and the kernel cases that exercise this CPU's
// tables, caches and probes. Their names carry the CPU.
struct ApRun {
  unsigned cpu;
  uint64_t seed;
};
constexpr const char* kApKernelCases[] = {"kernel_direct_map_exact", "kernel_fault_probes",
                                           "kernel_c_api", "kernel_page_misuse", "kernel_slab_misuse"};

// Tick allocations off, and no tick still inside one: a tick counts itself
// on entry (timer_ticks) and the next cannot start before its EOI, so once
// every online CPU has counted one more tick, any tick running at the switch
// is over. Else a tick descheduled mid-allocation (TCG, -smp 16) still holds
// a block of up to 4 frames when the runner counts free frames after the
// case. Then the back-off a failed tick left (kTickBackoff) is cleared, so
// the next case's ticks allocate from their first one (a short stress on a
// loaded host saw none). Bounded by 10 s for a timer that stopped.
void stop_tick_allocations() {
  set_tick_allocations(false);
  const Smp& s = kernel().smp;
  uint64_t seen[kMaxCpus];
  for (unsigned i = 0; i < s.cpu_count; ++i) seen[i] = arch::g_cpus[i].timer_ticks.load();
  const uint64_t deadline = arch::rdtsc() + arch::tsc_hz() * 10;
  for (unsigned i = 0; i < s.cpu_count; ++i) {
    if (arch::g_cpus[i].state.load() != arch::CpuState::Online) continue;
    while (arch::g_cpus[i].timer_ticks.load() <= seen[i] && arch::rdtsc() < deadline) idle_wait();
  }
  // No CPU reads it now: tick_allocate runs only while tick allocations are on.
  for (unsigned i = 0; i < s.cpu_count; ++i) arch::g_cpus[i].tick_backoff = 0;
}

// Out of memory in atomic context: with every frame this CPU can reach
// allocated, its timer ticks go on allocating and get null (counted, not a
// crash, not a report); other CPUs' ticks carry on from their caches. Then
// everything is freed and the runner checks the exact count.
void test_smp_ticks_out_of_memory(Context& ctx) {
  Kernel& k = kernel();
  PageAllocator& pages = k.pages;
  pages.drain_cpu_caches();
  set_tick_allocations(true);
  BlockChain held{pages};
  held.take_all();
  // Exhausted: this CPU's ticks now fail (a frame freed by a tick goes to
  // this CPU's cache and is taken by the next tick, so take what they free).
  // The loop asks with __GFP_NORETRY, so its last, failing call does not
  // drain every CPU's cache: a drain syncs every CPU, and with many vCPUs on
  // few host cores that starves this CPU of the very ticks the case waits
  // for (-smp 8: 70 ticks a second with the drain, 280 without). A tick
  // that fails still drains (the allocator's last resort).
  // The window is counted in this CPU's ticks, not wall time: under TCG with
  // more vCPUs than host cores a CPU may see a few ticks a second (-smp 16 on
  // 2 loaded cores: 77 ticks in 20 s). Each failure backs off kTickBackoff
  // (16) ticks, so 5 failures need at least 85 ticks; 400 leaves room for
  // ticks served by frames drained from other CPUs' caches. 60 s of wall
  // time bounds a CPU whose timer stopped (smp_cpus_online checks it ticks).
  arch::PerCpu& me = arch::this_cpu();
  const uint64_t failures_before = me.timer_alloc_failures.load();
  const uint64_t ticks_before = me.timer_ticks.load();
  const uint64_t start = arch::rdtsc(), deadline = start + arch::tsc_hz() * 60;
  while (me.timer_alloc_failures.load() < failures_before + 5 && me.timer_ticks.load() < ticks_before + 400 &&
         arch::rdtsc() < deadline) {
    idle_wait();
    for (PhysAddr p; !(p = pages.alloc_pages(Order{0}, __GFP_NOWARN | __GFP_NORETRY)).is_null();) held.push(p, 0);
  }
  stop_tick_allocations();
  const uint64_t failed_ticks = me.timer_alloc_failures.load() - failures_before;
  const uint64_t ticks = me.timer_ticks.load() - ticks_before;
  PF_CHECK(ctx, failed_ticks >= 5);
  const uint64_t blocks = held.blocks;
  PF_CHECK(ctx, blocks > 0);
  held.free_all();
  LogLine().text().str("    ").dec(blocks).str(" blocks held; ").dec(failed_ticks)
      .str(" of its ticks met out of memory on this CPU (").dec(ticks).str(" ticks in ")
      .dec((arch::rdtsc() - start) * 1000 / arch::tsc_hz()).str(" ms)").nl();
}

// smp_sync_cpus: every other online CPU answers (its generation reaches the
// caller's) or was found idle and skipped; a busy CPU (interrupts on, not
// halted) answers the IPI; a halted one is skipped, not woken; all CPUs
// calling it at once, masked, several times each, do not deadlock.
// Rounds per CPU: 20 up to 16 CPUs, then fewer (10 at 32, 5 at 64, at
// least 3). Every round of every CPU waits for every other busy CPU, so the
// case costs n * rounds * (n - 1) IPIs: at -smp 64 under TCG, 20 rounds took
// 17 s. 64 CPUs syncing at once 5 times each still interleave every way the
// 4-CPU row does.
unsigned sync_rounds_for(unsigned n) {
  const unsigned r = 320 / (n == 0 ? 1 : n);
  return r > 20 ? 20 : r < 3 ? 3 : r;
}
unsigned g_sync_rounds = 20;
void sync_rounds(arch::PerCpu&, void*) {
  for (unsigned r = 0; r < g_sync_rounds; ++r) {
    const unsigned long irq = platform::irq_save();
    smp_sync_cpus();
    platform::irq_restore(irq);
  }
}

std::atomic<bool> g_spin_started{false}, g_spin_release{false};
void spin_busy(arch::PerCpu&, void*) {
  g_spin_started.store(true, std::memory_order_release);
  while (!g_spin_release.load(std::memory_order_acquire)) arch::pause();
}

// Waits (halted, bounded by 5 s for a vCPU the host does not run) until
// `done` says so.
template <typename Done>
bool wait_until(Done done) {
  const uint64_t deadline = arch::rdtsc() + arch::tsc_hz() * 5;
  while (!done()) {
    if (arch::rdtsc() >= deadline) return false;
    idle_wait();
  }
  return true;
}

void test_smp_sync_cpus(Context& ctx) {
  Kernel& k = kernel();
  const unsigned n = k.smp.cpu_count;
  // Only online CPUs take part (a tiny machine may not have started all).
  unsigned last_online = 0;
  for (unsigned i = 1; i < n; ++i)
    if (online(i)) last_online = i;
  uint64_t skipped[kMaxCpus];
  for (unsigned i = 0; i < n; ++i) skipped[i] = arch::g_cpus[i].sync_skipped.load();
  const unsigned long irq = platform::irq_save();
  smp_sync_cpus();
  PF_CHECK(ctx, (arch::read_flags() & arch::kRflagsIf) == 0);  // it never unmasks
  platform::irq_restore(irq);
  // Nobody else syncs now (the other CPUs idle, tick allocations off).
  const uint64_t gen = smp_sync_generation();
  for (unsigned i = 1; i < n; ++i) {
    const arch::PerCpu& c = arch::g_cpus[i];
    if (online(i)) PF_CHECK(ctx, c.sync_seen.load() == gen || c.sync_skipped.load() > skipped[i]);
  }
  if (last_online != 0) {
    // The last CPU busy, interrupts on: it must answer by the IPI.
    const unsigned busy = last_online;
    g_spin_started.store(false);
    g_spin_release.store(false);
    run_on_cpu(busy, &spin_busy, nullptr);
    if (PF_CHECK(ctx, wait_until([] { return g_spin_started.load(); }))) {
      const uint64_t skipped_before = arch::g_cpus[busy].sync_skipped.load();
      smp_sync_cpus();
      PF_CHECK(ctx, arch::g_cpus[busy].sync_seen.load() == smp_sync_generation());
      PF_CHECK(ctx, arch::g_cpus[busy].sync_skipped.load() == skipped_before);
    }
    g_spin_release.store(true, std::memory_order_release);
    wait_cpu(busy);
    // Halted again, it is skipped (its tick may wake it between the look
    // and the sync: a few tries).
    bool skipped_idle = false;
    for (int attempt = 0; attempt < 20 && !skipped_idle; ++attempt) {
      if (!wait_until([&] { return arch::g_cpus[busy].idle.load() != 0; })) break;
      const uint64_t before = arch::g_cpus[busy].sync_skipped.load();
      smp_sync_cpus();
      skipped_idle = arch::g_cpus[busy].sync_skipped.load() > before;
    }
    PF_CHECK(ctx, skipped_idle);
  }
  const unsigned on = k.smp.online;
  g_sync_rounds = sync_rounds_for(on);
  const uint64_t gen_before = smp_sync_generation();
  const uint64_t start = arch::rdtsc();
  run_on_all(&sync_rounds, nullptr);
  const uint64_t us = arch::cycles_to_us(arch::rdtsc() - start);
  // Each of the online CPUs asked g_sync_rounds times.
  if (on > 1) PF_CHECK(ctx, smp_sync_generation() == gen_before + uint64_t{on} * g_sync_rounds);
  uint64_t skipped_total = 0;
  for (unsigned i = 0; i < n; ++i) skipped_total += arch::g_cpus[i].sync_skipped.load() - skipped[i];
  LogLine().text().str("    ").dec(uint64_t{on} * g_sync_rounds).str(" concurrent masked syncs on ").dec(on)
      .str(" CPUs in ").dec(us / 1000).str(" ms; ").dec(skipped_total).str(" idle CPUs skipped in the case").nl();
}

// ---- the SMP stress ------------------------------------------------------------

constexpr uint32_t kQueueCapacity = 256;
constexpr uint64_t kStressMaxOps = 400000;   // per CPU
constexpr uint64_t kStressMs = 1500;         // of emulated time, at most
constexpr uint64_t kStressStopEvery = 4096;  // operations, on average, per stop of the others
enum ItemKind : uint32_t { kItemPage = 1, kItemKmalloc = 2, kItemCache = 3 };

struct Item {
  uint64_t addr;   // physical (pages) or virtual (objects)
  uint64_t tag;
  uint32_t kind;
  uint32_t size;   // order for pages, bytes for objects
  uint32_t from;   // producing CPU
};

struct Queue {
  SpinLock lock;
  uint32_t head = 0, count = 0;
  Item items[kQueueCapacity];
};

struct CpuTally {
  uint64_t ops = 0, pages = 0, objects = 0, oom = 0;
  uint64_t sent_remote = 0, freed_remote = 0, freed_local = 0, corrupt = 0;
  uint64_t ticks = 0, tick_allocs = 0, ticks_in_alloc = 0;
  uint64_t stops = 0;  // shrinks, reclaims and verifies: this CPU stopping the others
};

struct Stress {
  Queue* queues = nullptr;  // one per CPU, from kmalloc for the run
  CpuTally tally[kMaxCpus];
  KmemCache* cache = nullptr;
  unsigned cpus = 1;
  uint64_t deadline = 0;
  uint64_t seed = 0;
  std::atomic<unsigned> at_barrier{0};
  // Every request is asked quietly first (__GFP_NORETRY: no draining every
  // CPU's caches, no reclaim); only the CPU holding this token, one at a
  // time machine-wide, asks again the way that drains and reclaims: the
  // tick's scheme (smp.cpp, g_tick_drainer), for the same reason. On a tiny
  // machine (-m 4M -smp 16, once 360 KiB were free) every CPU's request
  // failed and drained at once, each drain stopping every CPU in turn: 49
  // operations took 38 s (19 s with the token, most of it the stops below).
  std::atomic<bool> drainer{false};
};
Stress g_stress;

bool queue_push(Queue& q, const Item& it) {
  LockGuard g(q.lock);
  if (q.count == kQueueCapacity) return false;
  q.items[(q.head + q.count++) % kQueueCapacity] = it;
  return true;
}
bool queue_pop(Queue& q, Item& it) {
  LockGuard g(q.lock);
  if (q.count == 0) return false;
  it = q.items[q.head];
  q.head = (q.head + 1) % kQueueCapacity;
  --q.count;
  return true;
}

// Where an item's tag lives: its first and last word.
volatile uint64_t* item_words(const Kernel& k, const Item& it, size_t* last) {
  if (it.kind == kItemPage) {
    *last = ((kPageSize << it.size) / 8) - 1;
    return k.pages.to_virt<volatile uint64_t>(PhysAddr{it.addr});
  }
  *last = it.size / 8 - 1;
  return reinterpret_cast<volatile uint64_t*>(it.addr);
}

void barrier(unsigned round) {
  g_stress.at_barrier.fetch_add(1);
  while (g_stress.at_barrier.load() < round * g_stress.cpus) idle_wait();
}

// Frees what a CPU took off a queue (or could not hand on), after checking
// that nobody wrote over it while it was out.
void consume(Kernel& k, arch::PerCpu& me, CpuTally& t, const Item& it) {
  size_t last = 0;
  volatile uint64_t* w = item_words(k, it, &last);
  if (w[0] != it.tag || (last != 0 && w[last] != ~it.tag)) {
    if (++t.corrupt == 1) {
      LogLine().text().str("    cpu ").dec(me.index).str(": item from cpu ").dec(it.from).str(" kind ")
          .dec(it.kind).str(" size ").dec(it.size).str(" at ").hex(it.addr).str(" holds ").hex(w[0])
          .str(", not its tag ").hex(it.tag).nl();
    }
  }
  me.in_allocator.fetch_add(1, std::memory_order_relaxed);
  if (it.kind == kItemPage) k.pages.free_pages(PhysAddr{it.addr}, Order{it.size});
  else if (it.kind == kItemKmalloc) k.slab.kfree(reinterpret_cast<void*>(it.addr));
  else k.slab.cache_free(g_stress.cache, reinterpret_cast<void*>(it.addr));
  me.in_allocator.fetch_sub(1, std::memory_order_relaxed);
  ++(it.from == me.index ? t.freed_local : t.freed_remote);
}

void stress_body(arch::PerCpu& me, void*) {
  Kernel& k = kernel();
  CpuTally& t = g_stress.tally[me.index];
  t = CpuTally{};
  const uint64_t ticks0 = me.timer_ticks.load(), allocs0 = me.timer_allocs.load(),
                 in_alloc0 = me.ticks_in_allocator.load();
  conformance::Rng rng(g_stress.seed ^ (uint64_t{me.index} * 0x9E3779B97F4A7C15ull));
  Queue& mine = g_stress.queues[me.index];
  uint64_t seq = 0;
  {
    // The tick's back-off after a failure (smp.cpp, kTickBackoff) may be
    // left over from the case before, which exhausts memory on purpose:
    // a vCPU the host starves got 3 ticks in the stress, all inside it, and
    // made no timer allocation (-m 8M -smp 12). Cleared by the owner, its
    // interrupts masked (the tick's own field).
    const unsigned long irq = platform::irq_save();
    me.tick_backoff = 0;
    platform::irq_restore(irq);
  }
  // One operation at least, whatever the clock says: with 16 CPUs in 5 MiB
  // every operation meets out of memory and drains every CPU's caches, one
  // such operation took seconds under TCG, and a CPU woken after the
  // deadline did none (t.ops > 0 failed on a CPU that had no turn). Likewise
  // until one tick of this CPU has allocated (its next tick does, the
  // back-off cleared): a CPU woken at the deadline may not have ticked yet.
  while (t.ops < kStressMaxOps &&
         (t.ops == 0 || me.timer_allocs.load() == allocs0 || arch::rdtsc() < g_stress.deadline)) {
    ++t.ops;
    if (rng.below(kStressStopEvery) == 0) {
      // Stop every other CPU's fast paths while they run theirs: the
      // gate's stopper side (cpu_cache.hpp), which in this kernel relies on
      // smp_sync_cpus alone (no "inside" marks on the owners' side).
      ++t.stops;
      const uint64_t which = rng.below(8);
      if (which < 5) {
        k.slab.cache_shrink(g_stress.cache);
      } else if (which < 7) {
        k.slab.reclaim();
      } else if (!k.slab.verify() || !k.pages.verify()) {
        ++t.corrupt;
      }
      continue;
    }
    const uint64_t r = rng.below(100);
    if (r < 60) {
      Item it{};
      it.from = me.index;
      it.tag = (uint64_t{me.index} << 56) ^ (++seq * 0x9E3779B97F4A7C15ull);
      if (r < 25) {
        it.kind = kItemPage;
        it.size = static_cast<uint32_t>(rng.below(4));
      } else if (r < 45) {
        it.kind = kItemKmalloc;
        it.size = static_cast<uint32_t>(8 << rng.below(10));  // 8 .. 4096
      } else {
        it.kind = kItemCache;
        it.size = 192;
      }
      auto request = [&](gfp_t flags) -> uint64_t {
        switch (it.kind) {
          case kItemPage: return k.pages.alloc_pages(Order{it.size}, __GFP_NOWARN | flags).value;
          case kItemKmalloc: return reinterpret_cast<uint64_t>(k.slab.kmalloc(it.size, flags));
          default: return reinterpret_cast<uint64_t>(k.slab.cache_alloc(g_stress.cache, flags));
        }
      };
      me.in_allocator.fetch_add(1, std::memory_order_relaxed);
      it.addr = request(__GFP_NORETRY | __GFP_NOWARN);
      if (it.addr == 0 && !g_stress.drainer.exchange(true, std::memory_order_acquire)) {
        it.addr = request(0);  // the one drainer (g_stress.drainer)
        g_stress.drainer.store(false, std::memory_order_release);
      }
      me.in_allocator.fetch_sub(1, std::memory_order_relaxed);
      if (it.addr == 0) {
        ++t.oom;
        continue;
      }
      ++(it.kind == kItemPage ? t.pages : t.objects);
      size_t last = 0;
      volatile uint64_t* w = item_words(k, it, &last);
      w[last] = ~it.tag;  // an 8-byte object: its one word holds the tag
      w[0] = it.tag;
      const auto to = static_cast<unsigned>(rng.below(g_stress.cpus));
      if (queue_push(g_stress.queues[to], it)) {
        if (to != me.index) ++t.sent_remote;
      } else {
        consume(k, me, t, it);  // that queue is full: free it here
      }
    } else {
      Item it;
      for (int n = 0; n < 3 && queue_pop(mine, it); ++n) consume(k, me, t, it);
    }
  }
  barrier(1);  // nobody produces any more
  Item it;
  while (queue_pop(mine, it)) consume(k, me, t, it);
  t.ticks = me.timer_ticks.load() - ticks0;
  t.tick_allocs = me.timer_allocs.load() - allocs0;
  t.ticks_in_alloc = me.ticks_in_allocator.load() - in_alloc0;
  barrier(2);
}

// Cases whose one big request a tiny machine with many CPUs cannot meet at
// all (-smp 16 -m 4M: 15 AP stacks of 80 KiB leave 228 KiB free), judged
// before the case on the runner's settled state (caches drained, empty
// slabs back): no free block is as large as the request, so no allocator
// could meet it; the case is skipped and named with the reason, as a case
// that needs the local APIC is on a CPU without one. Exact, and only a
// necessary condition: what the case's own earlier requests (and the
// per-CPU refills they cause) take from the blocks left is judged when a
// request is refused (judge_no_memory), not guessed here.
struct BlockNeed {
  const char* name;
  uint64_t block_bytes;  // one contiguous request of this many bytes
  bool block_per_cpu;    // block_bytes is per online CPU
};
constexpr BlockNeed kBlockNeeds[] = {
    // krealloc to 20000 pointers: one 160000-byte block (order 6).
    {"slab_pointer_array_grows_to_20000", 20000 * sizeof(void*), false},
    // One queue per CPU in one kmalloc.
    {"smp_stress_cross_cpu_frees", sizeof(Queue), true},
};

const char* machine_too_small(Kernel& k, const char* name) {
  static char why[160];
  for (const BlockNeed& need : kBlockNeeds) {
    const char* a = name;
    const char* b = need.name;
    while (*b != '\0' && *a == *b) ++a, ++b;
    if (*b != '\0' || (*a != '\0' && *a != '@')) continue;  // "name" or "name@cpuN"
    TextBuffer t(why, sizeof why);
    const uint64_t block = need.block_bytes * (need.block_per_cpu ? k.smp.online : 1);
    unsigned order = 0;
    while ((kPageSize << order) < block) ++order;
    const int largest = k.pages.largest_free_order();
    if (block != 0 && largest < static_cast<int>(order)) {
      t.str("needs one free block of ").size(kPageSize << order).str("; the largest free is ")
          .size(largest < 0 ? 0 : kPageSize << largest);
      return t.c_str();
    }
  }
  return nullptr;
}

// All CPUs allocate pages, kmalloc objects and objects of one shared cache,
// and hand each to a random CPU's queue, which checks and frees it (a
// cross-CPU free when the producer was another CPU), while every timer tick
// allocates too, and now and then a CPU stops the others (cache_shrink,
// reclaim, verify) in the middle of their fast paths. Then: every queue drained, nothing corrupted, every CPU
// freed what reached it, timer allocations happened on every CPU and some
// ticks landed inside an allocator call; the runner then checks the exact
// free-frame count and verify().
void test_smp_stress(Context& ctx) {
  Kernel& k = kernel();
  Stress& st = g_stress;
  st.cpus = k.smp.online;
  st.seed = ctx.seed;
  st.at_barrier.store(0);
  st.drainer.store(false);
  st.cache = k.slab.cache_create("smp-stress-192", 192, 0, 0, nullptr);
  if (!PF_CHECK_MEMORY(ctx, st.cache != nullptr, conformance::MemoryNeed::cache(192, 0))) return;
  void* queue_memory = k.slab.kmalloc(sizeof(Queue) * st.cpus, __GFP_ZERO);
  const pf::KmemCache* queue_class = k.slab.kmalloc_cache_for(sizeof(Queue) * st.cpus);
  if (!PF_CHECK_MEMORY(ctx, queue_memory != nullptr,
                       queue_class != nullptr
                           ? conformance::MemoryNeed::block(queue_class->min_slab_order(), true)
                           : conformance::MemoryNeed::block(SlabAllocator::kmalloc_large_order(sizeof(Queue) * st.cpus, 0)))) {
    k.slab.cache_destroy(st.cache);
    return;
  }
  st.queues = new (queue_memory) Queue[st.cpus];
  const uint64_t start = arch::rdtsc();
  st.deadline = start + arch::tsc_hz() / 1000 * kStressMs;
  set_tick_allocations(true);
  run_on_all(&stress_body, nullptr);
  const uint64_t us = arch::cycles_to_us(arch::rdtsc() - start);
  stop_tick_allocations();

  CpuTally sum;
  LogLine().text().str("    cpu      ops   pages objects  oom  sent-remote freed-remote freed-local  ticks tick-allocs in-alloc")
      .nl();
  for (unsigned i = 0; i < st.cpus; ++i) {
    const CpuTally& t = st.tally[i];
    LogLine().text().str("    ").dec_w(i, 3).ch(' ').dec_w(t.ops, 8).ch(' ').dec_w(t.pages, 7).ch(' ')
        .dec_w(t.objects, 7).ch(' ').dec_w(t.oom, 4).ch(' ').dec_w(t.sent_remote, 12).ch(' ')
        .dec_w(t.freed_remote, 12).ch(' ').dec_w(t.freed_local, 11).ch(' ').dec_w(t.ticks, 6).ch(' ')
        .dec_w(t.tick_allocs, 11).ch(' ').dec_w(t.ticks_in_alloc, 8).nl();
    sum.ops += t.ops;
    sum.pages += t.pages;
    sum.objects += t.objects;
    sum.sent_remote += t.sent_remote;
    sum.freed_remote += t.freed_remote;
    sum.freed_local += t.freed_local;
    sum.corrupt += t.corrupt;
    sum.ticks_in_alloc += t.ticks_in_alloc;
    sum.stops += t.stops;
    PF_CHECK(ctx, t.ops > 0);
    if (!PF_CHECK(ctx, t.tick_allocs > 0))
      LogLine().text().str("    cpu ").dec(i).str(": no timer allocation during the stress").nl();
    PF_CHECK(ctx, st.queues[i].count == 0);
  }
  LogLine().text().str("    ").dec(st.cpus).str(" CPUs, ").dec(us / 1000).str(" ms: ").dec(sum.ops)
      .str(" operations, ").dec(sum.pages + sum.objects).str(" allocations handed on, ")
      .dec(sum.freed_remote).str(" freed by another CPU, ").dec(sum.ticks_in_alloc)
      .str(" ticks inside an allocator call, ").dec(sum.stops)
      .str(" stops of the other CPUs (shrink, reclaim, verify)").nl();
  PF_CHECK(ctx, sum.corrupt == 0);
  PF_CHECK(ctx, sum.freed_local + sum.freed_remote == sum.pages + sum.objects);
  PF_CHECK(ctx, sum.freed_remote == sum.sent_remote);
  if (st.cpus > 1) PF_CHECK(ctx, sum.freed_remote > 0);
  // (A tiny machine's run may do too few operations for a stop: with many
  // CPUs in 4 MiB each one meets out of memory.)
  if (st.cpus > 1 && sum.ops >= 16 * kStressStopEvery) PF_CHECK(ctx, sum.stops > 0);
  PF_CHECK(ctx, sum.ticks_in_alloc > 0);
  {
    // Each CPU's caches as the stress left them (the runner drains them next).
    static char text[4096];
    TextBuffer tb(text, sizeof text);
    format_cpus(k, tb);
    arch::serial_write(tb.c_str(), tb.length());
  }
  PF_CHECK(ctx, k.slab.cache_destroy(st.cache) == 0);
  st.cache = nullptr;
  k.slab.kfree(queue_memory);
  st.queues = nullptr;
}

struct KernelCase {
  const char* name;
  conformance::CaseFn fn;
  // Needs the local APIC (its timer ticks, IPIs): on a CPU without one
  // (-cpu qemu64,-apic) the kernel keeps interrupts off and one CPU
  // (smp_start), and such a case would wait in hlt for ever; it is skipped,
  // named in the log.
  bool needs_apic = false;
};
constexpr KernelCase kKernelCases[] = {
    {"kernel_direct_map_exact", &test_direct_map_exact},
    {"kernel_image_wx", &test_image_wx},
    {"kernel_fault_probes", &test_fault_probes},
    {"kernel_boot_region_released", &test_boot_region_released},
    {"kernel_memory_accounted", &test_memory_accounted},
    {"kernel_c_api", &test_c_api},
    {"kernel_page_misuse", &test_page_misuse},
    {"kernel_slab_misuse", &test_slab_misuse},
    {"kernel_slab_debug_misuse", &test_slab_debug_misuse},
    {"kernel_all_frames_pattern", &test_all_frames_pattern},
    {"smp_cpus_online", &test_smp_cpus_online, true},
    {"smp_sync_cpus", &test_smp_sync_cpus, true},
    {"smp_ticks_out_of_memory", &test_smp_ticks_out_of_memory, true},
    {"smp_stress_cross_cpu_frees", &test_smp_stress, true},
    // After everything else has allocated and written memory:
    {"kernel_image_unchanged", &test_image_unchanged},
    {"kernel_modules_intact", &test_modules_intact},
};

// Runs the AP cases on the CPU that calls it.
void run_ap_cases(arch::PerCpu& me, void* arg) {
  auto* run = static_cast<ApRun*>(arg);
  Kernel& k = kernel();
  static char name[96];
  auto named = [&](const char* base) {
    TextBuffer t(name, sizeof name);
    t.str(base).str("@cpu").dec(me.index);
    return name;
  };
  auto same = [](const char* a, const char* b) {
    while (*a != '\0' && *a == *b) ++a, ++b;
    return *a == *b;
  };
  for (size_t i = 0; i < conformance::case_count(); ++i) {
    const conformance::Case& c = conformance::case_at(i);
    // Exhausting all memory costs time in proportion to it and tests
    // nothing per CPU beyond one run off the boot CPU: the last AP only.
    if (same(c.name, "page_exhaust_and_restore") && me.index + 1 != k.smp.online) continue;
    run_case(k, named(c.name), c.fn, run->seed++);
  }
  for (const char* want : kApKernelCases)
    for (const KernelCase& c : kKernelCases)
      if (same(c.name, want)) run_case(k, named(c.name), c.fn, run->seed++);
}

}  // namespace

void run_selftest(Kernel& k) {
  {
    // The machine under test, for the log.
    static char text[8192];
    TextBuffer t(text, sizeof text);
    k.map.format_entries(t);
    k.pages.format_zones(t);
    t.str("page tables: direct map ").dec(k.direct_map_count).str(" ranges, ").dec(k.mapping.leaves_1g)
        .str(" x 1 GiB + ").dec(k.mapping.leaves_2m).str(" x 2 MiB + ").dec(k.mapping.leaves_4k)
        .str(" x 4 KiB pages; NX ").str(k.nx ? "on" : "unavailable").str("; slab debug ")
        .str(k.options.slab_debug ? "on" : "off").nl();
    format_cpus(k, t);
    arch::serial_write(t.c_str(), t.length());
  }
  const uint64_t start = arch::rdtsc();
  const size_t cases = conformance::case_count();
  {
    LogLine l;
    l->str("== in-kernel tests: ").dec(cases).str(" conformance cases, ")
        .dec(sizeof kKernelCases / sizeof kKernelCases[0] + (k.options.fail_demo ? 1 : 0))
        .str(" kernel cases; ").size(k.pages.counters().free_frames * kPageSize).str(" free").nl();
  }
  uint64_t seed = kSeedBase;
  for (size_t i = 0; i < cases; ++i) {
    const conformance::Case& c = conformance::case_at(i);
    run_case(k, c.name, c.fn, seed++);
  }
  if (k.options.fail_demo) run_case(k, "fail_demo", &test_fail_demo, seed++);
  for (const KernelCase& c : kKernelCases) {
    if (c.needs_apic && !arch::cpu_has_apic()) {
      LogLine().text().str("[SKIP] ").str(c.name).str(": this CPU has no local APIC").nl();
      ++seed;
      continue;
    }
    run_case(k, c.name, c.fn, seed++);
  }
  if (k.smp.cpus_without_caches != 0) {
    g_run.skipped += k.smp.cpus_without_caches;
    LogLine().text().str("[SKIP] the cases on cpus ").dec(k.smp.cpu_count).str("-")
        .dec(k.smp.cpu_count + k.smp.cpus_without_caches - 1)
        .str(": not started (no room for their per-CPU caches: PageAllocator::init)").nl();
  }
  // The same cases on every other CPU, one CPU at a time.
  for (unsigned i = 1; i < k.smp.cpu_count; ++i) {
    if (!online(i)) {
      // (smp_cpus_online fails unless the machine had no memory to start it.)
      if (k.smp.not_started_no_memory > 0) {
        ++g_run.skipped;
        LogLine().text().str("[SKIP] the cases on cpu").dec(i).str(": not started (").str(k.smp.error).str(")").nl();
      }
      continue;
    }
    ApRun run{i, seed};
    run_on_cpu(i, &run_ap_cases, &run);
    wait_cpu(i);
    seed = run.seed;
  }

  {
    static char text[8192];
    TextBuffer t(text, sizeof text);
    format_cpus(k, t);
    arch::serial_write(t.c_str(), t.length());
  }
  {
    LogLine l;
    l->str("== tests took ").dec(arch::cycles_to_us(arch::rdtsc() - start) / 1000).str(" ms (TSC)").nl();
  }
  if (g_run.skipped != 0)
    LogLine().text().dec(g_run.skipped).str(" cases skipped: this machine cannot hold what they ask for").nl();
  LogLine().text().dec(g_run.passed).str(" passed, ").dec(g_run.failed).str(" failed").nl();
  arch::exit_qemu(g_run.failed == 0 && g_run.passed > 0 ? arch::ExitCode::Success
                                                         : arch::ExitCode::TestsFailed);
}

}  // namespace pf::kernel
