// memdump_test.cpp — format_memory_map_dump() (kernel/mm/memdump.hpp): the
// "pfmap" text the kernel prints and tools/memsvg.py draws. Checks that the
// dump is complete and adds up (every managed frame in exactly one block
// line, free frames as counted), that runs coalesce (a fresh machine is a
// few lines; every-other-frame-free is one line per state), and that the
// sink sees whole lines. Leaves the allocator as found.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "kernel/mm/memdump.hpp"
#include "machine.hpp"
#include "page_test_util.hpp"

namespace pf::test {
namespace {

struct Dump {
  std::vector<std::string> lines;
  std::map<std::string, uint64_t> frames_by_state;      // frames in block lines
  std::map<std::string, uint64_t> lines_by_kind;        // "blocks free 0" etc.
  std::map<unsigned, uint64_t> free_blocks_by_order;    // state free only
};

void collect(TextBuffer& t, void* ctx) {
  auto* d = static_cast<Dump*>(ctx);
  std::string s(t.c_str(), t.length());
  EXPECT_EQ(std::count(s.begin(), s.end(), '\n'), 1) << "the sink gets one whole line: " << s;
  s.pop_back();
  d->lines.push_back(s);
  t.clear();
}

Dump dump(const PageAllocator& pages, const MemoryMap* map, std::span<const DumpMark> marks = {}) {
  Dump d;
  char buf[256];
  TextBuffer t(buf, sizeof buf);
  format_memory_map_dump(pages, DumpOptions{.snapshot = "t", .map = map, .marks = marks, .sink = collect, .context = &d}, t);
  EXPECT_EQ(t.length(), 0u);
  for (const std::string& l : d.lines) {
    EXPECT_EQ(l.rfind("pfmap ", 0), 0u) << l;
    std::istringstream in(l.substr(6));
    std::string kind, state;
    in >> kind;
    if (kind != "blocks") continue;
    unsigned order = 0;
    std::string base, stride;
    uint64_t count = 0;
    in >> state >> order >> base >> count >> stride;
    d.frames_by_state[state] += count << order;
    d.lines_by_kind["blocks " + state + " " + std::to_string(order)]++;
    if (state == "free") d.free_blocks_by_order[order] += count;
  }
  return d;
}

TEST(MemoryDump, FreshMachineIsCompleteAndShort) {
  Machine m({usable(0, 640 * KiB), usable(1 * MiB, 63 * MiB), usable(4 * GiB, 64 * MiB)},
            PageAllocatorConfig{.cpu_count = 2});
  ASSERT_TRUE(m.ok());
  const PageCounters c = m.pages().counters();
  Dump d = dump(m.pages(), &m.map());
  ASSERT_GE(d.lines.size(), 2u);
  EXPECT_EQ(d.lines.front(), "pfmap begin t v1");
  EXPECT_EQ(d.lines.back(), "pfmap end t lines=" + std::to_string(d.lines.size()));
  uint64_t all = 0;
  for (const auto& [state, frames] : d.frames_by_state) all += frames;
  EXPECT_EQ(all, c.managed_frames + c.reserved_frames);
  EXPECT_EQ(d.frames_by_state["free"] + d.frames_by_state["cached"], c.free_frames);
  EXPECT_EQ(d.frames_by_state["reserved"], c.reserved_frames);
  for (unsigned k = 0; k < kOrderCount; ++k) {
    uint64_t expected = 0;
    for (Zone z : {Zone::Dma, Zone::Dma32, Zone::Normal}) expected += m.pages().free_blocks(z, Order{k});
    EXPECT_EQ(d.free_blocks_by_order[k], expected) << "order " << k;
  }
  // 128 MiB of fresh memory is mostly 4 MiB blocks in a few runs.
  EXPECT_LT(d.lines.size(), 50u);
  const auto has = [&](const std::string& prefix) {
    return std::any_of(d.lines.begin(), d.lines.end(), [&](const std::string& l) { return l.rfind(prefix, 0) == 0; });
  };
  EXPECT_TRUE(has("pfmap raw 0x100000 0x4000000 usable"));
  EXPECT_TRUE(has("pfmap zone Normal 0x100000000 0x104000000 managed="));
  EXPECT_TRUE(has("pfmap mark descriptors "));
  EXPECT_TRUE(has("pfmap buddyinfo DMA32 "));
  EXPECT_TRUE(Verified(m.pages()));
}

TEST(MemoryDump, EveryOtherFrameFreeIsOneRunPerState) {
  auto m = Machine::with_ram(32 * MiB, 1);
  ASSERT_TRUE(m->ok());
  PageAllocator& pa = m->pages();
  const uint64_t free_before = m->free_frames();
  std::vector<PhysAddr> held;
  for (int i = 0; i < 2048; ++i) held.push_back(pa.alloc_pages(Order{0}, GFP_KERNEL));
  ASSERT_TRUE(std::none_of(held.begin(), held.end(), [](PhysAddr p) { return p.is_null(); }));
  std::sort(held.begin(), held.end());
  // The longest contiguous span of pages held, from an even frame: free every
  // other page of it (their buddies stay allocated, so nothing merges) and
  // every page outside it.
  size_t best = 0, best_len = 0;
  for (size_t i = 0, j; i < held.size(); i = j) {
    for (j = i + 1; j < held.size() && held[j] - held[j - 1] == kPageSize;) ++j;
    if (j - i > best_len) best = i, best_len = j - i;
  }
  if (to_pfn(held[best]).value % 2) ++best, --best_len;
  best_len &= ~size_t{1};
  ASSERT_GE(best_len, 512u);
  std::vector<PhysAddr> kept;
  for (size_t i = 0; i < held.size(); ++i) {
    if (i >= best && i < best + best_len && (i - best) % 2 == 1)
      kept.push_back(held[i]);
    else
      pa.free_pages(held[i], Order{0});
  }
  pa.drain_cpu_caches();

  const DumpMark marks[] = {{"image", PhysAddr{1 * MiB}, PhysAddr{2 * MiB}}};
  const Dump d = dump(pa, nullptr, marks);
  const auto has = [&](const std::string& line) {
    return std::find(d.lines.begin(), d.lines.end(), line) != d.lines.end();
  };
  // The freed half is one stride-2 run ending at the span's last freed page.
  // Its first page may instead join a stride-1 run with the free frame
  // before the span (where the metadata ends decides), so the run holds
  // best_len / 2 pages, or one fewer starting one step later.
  char run[96], later[96];
  std::snprintf(run, sizeof run, "pfmap blocks free 0 0x%llx %zu 0x2000",
                static_cast<unsigned long long>(held[best].value), best_len / 2);
  std::snprintf(later, sizeof later, "pfmap blocks free 0 0x%llx %zu 0x2000",
                static_cast<unsigned long long>(held[best].value + 2 * kPageSize), best_len / 2 - 1);
  EXPECT_TRUE(has(run) || has(later)) << run;
  std::snprintf(run, sizeof run, "pfmap blocks allocated 0 0x%llx %zu 0x2000",
                static_cast<unsigned long long>(held[best].value + kPageSize), best_len / 2);
  EXPECT_TRUE(has(run)) << run;
  EXPECT_EQ(d.frames_by_state.at("allocated"), kept.size());
  EXPECT_TRUE(has("pfmap mark image 0x100000 0x200000"));
  EXPECT_EQ(std::count_if(d.lines.begin(), d.lines.end(), [](const std::string& l) { return l.rfind("pfmap raw", 0) == 0; }), 0)
      << "no map given, no map lines";

  for (PhysAddr p : kept) pa.free_pages(p, Order{0});
  pa.drain_cpu_caches();
  EXPECT_TRUE(Verified(pa));
  EXPECT_EQ(m->free_frames(), free_before);
}

TEST(MemoryDump, WithoutSinkTheTextAccumulates) {
  auto m = Machine::with_ram(8 * MiB, 1);
  ASSERT_TRUE(m->ok());
  std::vector<char> buf(64 * 1024);
  TextBuffer t(buf.data(), buf.size());
  format_memory_map_dump(m->pages(), DumpOptions{.snapshot = "whole"}, t);
  const std::string text(t.c_str(), t.length());
  EXPECT_FALSE(t.truncated());
  EXPECT_EQ(text.rfind("pfmap begin whole v1\n", 0), 0u);
  EXPECT_NE(text.find("\npfmap end whole lines="), std::string::npos);
}

}  // namespace
}  // namespace pf::test
