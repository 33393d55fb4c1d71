// report.cpp — `run` mode: what the allocator looks like on this machine,
// and what its operations cost, printed on serial; then a clean exit.
//
// Timings come from the TSC (calibrated against the PIT, timing.hpp). Under
// QEMU's TCG they measure the emulator, so they are useful for comparing
// operations with each other on one run, not with real hardware.
#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/cpu.hpp"
#include "kernel/arch/x86_64/layout.hpp"
#include "kernel/arch/x86_64/timing.hpp"
#include "kernel/kernel.hpp"
#include "kernel/memview.hpp"
#include "kernel/mm/text.hpp"
#include "kernel/reclaim.hpp"

namespace pf::kernel {

namespace {

// Large reports go out in one buffer; kept off the stack.
char g_text[32 * 1024];

void print(TextBuffer& t) {
  arch::serial_write(t.c_str(), t.length());
  if (t.truncated()) arch::serial_puts("  [... truncated]\n");
  t.clear();
}

void section(TextBuffer& t, const char* title) { t.nl().str("== ").str(title).nl(); }

void ms(TextBuffer& t, uint64_t cycles) {
  const uint64_t us = arch::cycles_to_us(cycles);
  t.dec(us / 1000).ch('.').dec_w(us % 1000 / 100, 1).dec_w(us % 100 / 10, 1).str(" ms");
}

// Each figure is the median of kRepetitions runs of kIterations pairs: the
// emulator shares the host with other work, and a median shrugs off a run
// that was descheduled.
constexpr unsigned kIterations = 20000;
constexpr unsigned kRepetitions = 7;

template <typename Pair>
uint64_t median_cycles(Pair&& pair) {
  for (unsigned i = 0; i < 1000; ++i) pair();  // warm-up
  uint64_t runs[kRepetitions];
  for (uint64_t& r : runs) {
    const uint64_t start = arch::rdtsc();
    for (unsigned i = 0; i < kIterations; ++i) pair();
    r = (arch::rdtsc() - start) / kIterations;
  }
  for (unsigned i = 1; i < kRepetitions; ++i)  // insertion sort: 7 values
    for (unsigned j = i; j > 0 && runs[j - 1] > runs[j]; --j) {
      const uint64_t x = runs[j];
      runs[j] = runs[j - 1];
      runs[j - 1] = x;
    }
  return runs[kRepetitions / 2];
}

uint64_t bench_pages(PageAllocator& pages, unsigned order) {
  return median_cycles([&] { pages.free_pages(pages.alloc_pages(Order{order}, 0), Order{order}); });
}

uint64_t bench_kmalloc(SlabAllocator& slab, size_t size) {
  return median_cycles([&] { slab.kfree(slab.kmalloc(size, 0)); });
}

uint64_t bench_cache(SlabAllocator& slab, KmemCache* c) {
  return median_cycles([&] { slab.cache_free(c, slab.cache_alloc(c, 0)); });
}

// The floor for a pair: push and pop on an array stack.
uint64_t bench_floor() {
  static volatile uint64_t stack[64];
  static volatile unsigned top = 0;
  return median_cycles([&] {
    stack[top] = top;
    top = top + 1;
    top = top - 1;
    (void)stack[top];
  });
}

}  // namespace

void run_report(Kernel& k) {
  TextBuffer t(g_text, sizeof g_text);
  PageAllocator& pages = k.pages;

  section(t, "firmware memory map (as received)");
  k.map.format_raw(t);
  section(t, "memory map (normalised)");
  k.map.format_entries(t);
  print(t);

  section(t, "zones");
  pages.format_zones(t);
  const PageCounters c = pages.counters();
  t.str("total: managed ").dec(c.managed_frames).str(" frames (").size(c.managed_frames * kPageSize)
      .str("), free ").dec(c.free_frames).str(", reserved ").dec(c.reserved_frames).nl();
  section(t, "cpus (each CPU's page and object caches after 100 ms of allocation on every CPU)");
  format_cpus(k, t);
  section(t, "buddyinfo");
  pages.format_buddyinfo(t);
  section(t, "slabinfo");
  k.slab.format_slabinfo(t);
  print(t);
  show_memory_at_boot(k);  // issue 12: "pfmap" dump for memory.svg, then the gdb checkpoint

  section(t, "overhead");
  const uint64_t described = c.managed_frames + c.reserved_frames;
  // Init's arrays (whole frames each) and, above 4 GiB, the arrays inside
  // the hot-added ranges (16 bytes per frame of each).
  const uint64_t added_desc = k.high.added_frames * PageAllocator::descriptor_bytes_per_frame();
  const uint64_t desc = pages.descriptor_bytes() + added_desc;
  const uint64_t bp = described ? desc * 10000 / (described * kPageSize) : 0;  // basis points
  t.str("descriptors: ").dec(PageAllocator::descriptor_bytes_per_frame()).str(" bytes per frame, ")
      .size(desc).str(" for ").dec(described).str(" frames (").dec(bp / 100).ch('.')
      .ch(static_cast<char>('0' + bp % 100 / 10)).ch(static_cast<char>('0' + bp % 10))
      .str("% of the memory they describe)").nl();
  t.str("bootmem (below 4 GiB: descriptors + per-CPU caches): ").size(pages.bootmem_bytes()).nl();
  if (k.high.ranges != 0)
    t.str("hot-added above 4 GiB: ").dec(k.high.ranges).str(k.high.ranges == 1 ? " range, " : " ranges, ")
        .size(k.high.added_frames << kPageShift).str("; metadata inside them ")
        .size(pages.hotplug_meta_frames() << kPageShift).str(" (descriptors ").size(added_desc)
        .str(", lookups, Normal zone's per-CPU slots)").nl();
  t.str("page tables: ").dec(k.mapping.tables).str(" table frames; direct map of ")
      .dec(k.direct_map_count).str(" ranges with ").dec(k.mapping.leaves_1g).str(" x 1 GiB, ")
      .dec(k.mapping.leaves_2m).str(" x 2 MiB, ").dec(k.mapping.leaves_4k)
      .str(" x 4 KiB pages (kernel image included); largest page offered: ")
      .str(k.max_page == arch::k1GiB ? "1 GiB" : "2 MiB").str(", NX: ").str(k.nx ? "yes" : "no").nl();
  t.str("boot tables and 32-bit entry code handed back: ").dec(k.boot_frames_released).str(" frames")
      .nl();
  print(t);
  format_reserved(k, t);
  print(t);

  section(t, "time");
  t.str("TSC: ").dec(arch::tsc_hz() / 1000000).str(" MHz (").str(arch::clock_source()).str(")").nl();
  t.str("boot entry -> page allocator ready: ").dec(k.tsc_pages_ready - k.tsc_entry).str(" cycles, ");
  ms(t, k.tsc_pages_ready - k.tsc_entry);
  t.nl().str("  of which PageAllocator::init: ").dec(k.tsc_pages_ready - k.tsc_init).str(" cycles, ");
  ms(t, k.tsc_pages_ready - k.tsc_init);
  t.nl().str("  of which boot info and map intake: ").dec(k.tsc_init - k.tsc_main).str(" cycles, ");
  ms(t, k.tsc_init - k.tsc_main);
  t.nl().str("boot entry -> own page tables live: ").dec(k.tsc_tables_live - k.tsc_entry).str(" cycles, ");
  ms(t, k.tsc_tables_live - k.tsc_entry);
  t.nl().str("boot entry -> memory above 4 GiB added: ").dec(k.tsc_high_added - k.tsc_entry).str(" cycles, ");
  ms(t, k.tsc_high_added - k.tsc_entry);
  t.nl().str("  of which add_memory: ").dec(k.tsc_high_added - k.tsc_tables_live).str(" cycles, ");
  ms(t, k.tsc_high_added - k.tsc_tables_live);
  t.nl().str("boot entry -> slab allocator ready: ").dec(k.tsc_slab_ready - k.tsc_entry).str(" cycles, ");
  ms(t, k.tsc_slab_ready - k.tsc_entry);
  t.nl();
  print(t);

  section(t, "cost per pair (rdtsc; median of 7 runs of 20000 pairs, after 1000 warm-up pairs)");
  print(t);
  const uint64_t floor = bench_floor();
  t.str("  array stack push+pop (the floor):  ").dec_w(floor, 6).str(" cycles").nl();
  print(t);
  for (unsigned order : {0u, 1u, 3u, 9u}) {
    // A tiny machine (-m 4M) has no free block of order 9: say so rather
    // than free the null result in the loop (a fatal misuse report).
    const PhysAddr probe = pages.alloc_pages(Order{order}, __GFP_NOWARN);
    if (probe.is_null()) {
      t.str("  alloc_pages/free_pages order ").dec(order).str(":    no free block of this order").nl();
      print(t);
      continue;
    }
    pages.free_pages(probe, Order{order});
    const uint64_t cy = bench_pages(pages, order);
    t.str("  alloc_pages/free_pages order ").dec(order).str(":    ").dec_w(cy, 6).str(" cycles").nl();
    print(t);
  }
  for (size_t size : {size_t{8}, size_t{64}, size_t{256}, size_t{4096}}) {
    const uint64_t cy = bench_kmalloc(k.slab, size);
    t.str("  kmalloc/kfree ").dec_w(size, 4).str(" bytes:          ").dec_w(cy, 6).str(" cycles").nl();
    print(t);
  }

  // What debug mode costs: the same object size, plain and SLAB_DEBUG.
  KmemCache* plain = k.slab.cache_create("bench-64", 64, 0, 0, nullptr);
  KmemCache* debug = k.slab.cache_create("bench-64-debug", 64, 0, SLAB_DEBUG, nullptr);
  if (plain != nullptr && debug != nullptr) {
    const uint64_t p = bench_cache(k.slab, plain), d = bench_cache(k.slab, debug);
    t.str("  kmem_cache_alloc/free 64 bytes:    ").dec_w(p, 6).str(" cycles; with SLAB_DEBUG ")
        .dec(d).str(" cycles (x").dec(p ? d / p : 0).ch('.').dec_w(p ? d * 10 / p % 10 : 0, 1).str(")").nl();
    print(t);
  }
  if (plain != nullptr) k.slab.cache_destroy(plain);
  if (debug != nullptr) k.slab.cache_destroy(debug);

  show_memory_after_workload(k);  // issue 12: the "after" snapshot; leaves memory as found

  pages.drain_cpu_caches();
  const bool clean = pages.verify() && k.slab.verify();
  t.nl().str("verify(): ").str(clean ? "clean" : "FAILED").nl();
  t.str("run finished").nl();
  print(t);
  arch::exit_qemu(clean ? arch::ExitCode::Success : arch::ExitCode::Fatal);
}

}  // namespace pf::kernel
