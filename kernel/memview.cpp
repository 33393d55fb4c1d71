// memview.cpp — the kernel's part of the memory picture (see memview.hpp):
// which ranges it reserved, under which labels, and the workload that makes
// the "after" snapshot worth looking at. The dump's format is owned by
// kernel/mm/memdump.hpp (shared with the hosted tools); lines go straight to
// serial as they are formatted, so the dump needs no large buffer.
//
// Single CPU, interrupts off while this runs: the dump takes no lock.
#include "kernel/memview.hpp"

#include "kernel/arch/x86_64/console.hpp"
#include "kernel/arch/x86_64/layout.hpp"
#include "kernel/arch/x86_64/paging.hpp"
#include "kernel/mm/memdump.hpp"

extern "C" [[gnu::noinline, gnu::used]] void pf_debug_checkpoint(const char* where) {
  // An empty body the compiler must keep: the debugger's breakpoint target.
  asm volatile("" : : "r"(where) : "memory");
}

namespace pf::kernel {

namespace {

constexpr size_t kMaxMarks = 256;
DumpMark g_marks[kMaxMarks];
size_t g_mark_count = 0;

// Page-table frames found by walking the live tables (kept sorted).
constexpr size_t kMaxTables = 2048;
uint64_t g_tables[kMaxTables];
size_t g_table_count = 0;

void add_mark(const char* label, uint64_t base, uint64_t end) {
  if (g_mark_count < kMaxMarks && base < end) g_marks[g_mark_count++] = {label, PhysAddr{base}, PhysAddr{end}};
}

void add_table(uint64_t phys) {
  if (g_table_count == kMaxTables) return;
  size_t i = g_table_count++;
  for (; i > 0 && g_tables[i - 1] > phys; --i) g_tables[i] = g_tables[i - 1];
  g_tables[i] = phys;
}

// Every table frame reachable from CR3 (PML4, PDPTs, PDs, PTs).
void collect_tables(uint64_t phys, int level) {
  add_table(phys);
  if (level == 1) return;
  const auto* t = reinterpret_cast<const uint64_t*>(arch::kDirectMapBase + phys);
  for (unsigned i = 0; i < 512; ++i) {
    const uint64_t e = t[i];
    if (!(e & arch::kPtePresent)) continue;
    if (level < 4 && (e & arch::kPteLarge)) continue;  // a 1 GiB or 2 MiB leaf
    collect_tables(e & arch::kPteAddrMask, level - 1);
  }
}

bool overlaps(const Region& r, uint64_t base, uint64_t end) {
  return r.base < end && base < r.base + r.length;
}

void build_marks(Kernel& k) {
  g_mark_count = 0;
  const uint64_t image_start = arch::kernel_virt_to_phys(arch::sym(__text_start));
  const uint64_t image_end = arch::sym(__image_phys_end);
  add_mark("kernel-image", image_start, image_end);
  add_mark("boot-code-released", k.boot_region.base, k.boot_region.end);
  for (size_t i = 0; i < k.module_count; ++i) add_mark("module", k.modules[i].start, k.modules[i].end);
  // What else the kernel reserved before init came from the boot information
  // (the info structure, command line, module list, memory map buffer).
  for (const Region& r : k.map.reserved()) {
    if (overlaps(r, image_start, image_end) || overlaps(r, k.boot_region.base, k.boot_region.end))
      continue;
    bool is_module = false;
    for (size_t i = 0; i < k.module_count; ++i)
      is_module = is_module || overlaps(r, k.modules[i].start, k.modules[i].end);
    if (!is_module) add_mark("boot-info", r.base, r.base + r.length);
  }
  g_table_count = 0;
  if (k.address_space_root != 0) collect_tables(k.address_space_root, 4);
  for (size_t i = 0; i < g_table_count;) {
    size_t j = i + 1;
    while (j < g_table_count && g_tables[j] == g_tables[j - 1] + kPageSize) ++j;
    add_mark("page-tables", g_tables[i], g_tables[j - 1] + kPageSize);
    i = j;
  }
}

void serial_sink(TextBuffer& text, void*) {
  arch::serial_write(text.c_str(), text.length());
  text.clear();
}

// The workload's order-2 blocks, kept off the stack. Its pages and objects
// are chained through their own first word (intrusive lists): arrays for
// them (160 KiB of .bss) put the image's end past what a 2 MiB machine
// loads (SeaBIOS keeps [1.875 MiB, 2 MiB); the loader's boot information
// went past RAM and the command line was lost).
constexpr size_t kWorkPages = 16384;     // 64 MiB of order-0 pages at most
constexpr size_t kWorkBlocks = 64;       // order-2 blocks
constexpr size_t kWorkObjects = 4096;    // kmalloc(192) objects
PhysAddr g_work_blocks[kWorkBlocks];

}  // namespace

void print_memory_dump(Kernel& k, const char* snapshot) {
  build_marks(k);
  char line[256];
  TextBuffer t(line, sizeof line);
  format_memory_map_dump(k.pages,
                         DumpOptions{.snapshot = snapshot,
                                     .map = &k.map,
                                     .marks = {g_marks, g_mark_count},
                                     .sink = serial_sink,
                                     .context = nullptr},
                         t);
}

void show_memory_at_boot(Kernel& k) {
  print_memory_dump(k, "boot");
  pf_debug_checkpoint("boot");
}

void show_memory_after_workload(Kernel& k) {
  PageAllocator& pages = k.pages;
  const uint64_t free_before = pages.counters().free_frames;
  // At most a quarter of free memory, so a small machine keeps running.
  const size_t want = free_before / 4 < kWorkPages ? free_before / 4 : kWorkPages;
  // Held pages: a list through each page's first word (0 ends it).
  uint64_t page_list = 0;
  size_t held = 0;
  for (; held < want; ++held) {
    const PhysAddr p = pages.alloc_pages(Order{0}, __GFP_NOWARN);
    if (p.is_null()) break;
    *pages.to_virt<uint64_t>(p) = page_list;
    page_list = p.value;
  }
  size_t blocks = 0;
  for (; blocks < kWorkBlocks; ++blocks) {
    g_work_blocks[blocks] = pages.alloc_pages(Order{2}, __GFP_NOWARN);
    if (g_work_blocks[blocks].is_null()) break;
  }
  // Objects: a list through each object's first word, newest first.
  void* object_list = nullptr;
  size_t objects = 0;
  for (; objects < kWorkObjects; ++objects) {
    void* o = k.slab.kmalloc(192, __GFP_NOWARN);
    if (o == nullptr) break;
    *static_cast<void**>(o) = object_list;
    object_list = o;
  }
  // Keep about one page in five (a fixed pseudo-random choice), free the
  // rest: the buddy merges what it can around the pages kept.
  uint64_t x = 0x9e3779b97f4a7c15ull;
  uint64_t kept_list = 0;
  size_t kept = 0;
  while (page_list != 0) {
    const PhysAddr p{page_list};
    page_list = *pages.to_virt<uint64_t>(p);
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    if ((x >> 33) % 5 == 0) {
      *pages.to_virt<uint64_t>(p) = kept_list;
      kept_list = p.value;
      ++kept;
    } else {
      pages.free_pages(p, Order{0});
    }
  }
  // Every other object freed (the second, fourth, ... of the list).
  void* kept_objects = nullptr;
  for (size_t i = 0; object_list != nullptr; ++i) {
    void* o = object_list;
    object_list = *static_cast<void**>(o);
    if (i % 2 == 1) {
      k.slab.kfree(o);
    } else {
      *static_cast<void**>(o) = kept_objects;
      kept_objects = o;
    }
  }
  pages.drain_cpu_caches();

  {
    LogLine line;
    line->str("memory workload: holding ").dec(kept).str(" of ").dec(held).str(" order-0 pages, ")
        .dec(blocks).str(" order-2 blocks, ").dec((objects + 1) / 2).str(" kmalloc(192) objects").nl();
  }
  print_memory_dump(k, "after");

  while (kept_objects != nullptr) {
    void* o = kept_objects;
    kept_objects = *static_cast<void**>(o);
    k.slab.kfree(o);
  }
  for (size_t i = 0; i < blocks; ++i) pages.free_pages(g_work_blocks[i], Order{2});
  while (kept_list != 0) {
    const PhysAddr p{kept_list};
    kept_list = *pages.to_virt<uint64_t>(p);
    pages.free_pages(p, Order{0});
  }
}

}  // namespace pf::kernel
