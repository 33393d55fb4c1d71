// hosted_memdump.cpp — the memory picture of a hosted allocator (issue 12):
// a PC-like firmware map (tests/bench/fixture.hpp's e820_map) in a hosted
// window, the page allocator on it, and the "pfmap" dump of
// kernel/mm/memdump.hpp written to stdout at three points of the benchmark's
// fragmentation workload (tests/bench/ours.hpp, workload 3): at boot, once
// half the memory was freed again ("fragmented"), and with the order-9 blocks
// that could still be had held ("order-9"). tools/memsvg.py renders it.
//
//   hosted_memdump [--mib N] [--pattern clustered|scattered]
//
// Exit status 0 only if the workload left the allocator as found (verify()
// clean, same free-frame count).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "kernel/mm/memdump.hpp"
#include "tests/bench/fixture.hpp"
#include "tests/bench/ours.hpp"
#include "tests/bench/workloads.hpp"

namespace {

void stdout_sink(pf::TextBuffer& text, void*) {
  std::fwrite(text.c_str(), 1, text.length(), stdout);
  text.clear();
}

void dump(const pf::bench::BenchMachine& m, pf::PageAllocator& pages, const char* snapshot) {
  char line[256];
  pf::TextBuffer t(line, sizeof line);
  pf::format_memory_map_dump(pages, pf::DumpOptions{.snapshot = snapshot, .map = &m.map(), .sink = stdout_sink}, t);
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t mib = 256;
  pf::bench::FragPattern pattern = pf::bench::FragPattern::Clustered;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--mib") && i + 1 < argc) {
      mib = std::strtoull(argv[++i], nullptr, 0);
    } else if (!std::strcmp(argv[i], "--pattern") && i + 1 < argc) {
      const char* p = argv[++i];
      pattern = !std::strcmp(p, "scattered") ? pf::bench::FragPattern::Scattered : pf::bench::FragPattern::Clustered;
    } else {
      std::fprintf(stderr, "usage: %s [--mib N] [--pattern clustered|scattered]\n", argv[0]);
      return 2;
    }
  }
  std::string why;
  const auto regions = pf::bench::e820_map(mib * pf::MiB);
  auto m = pf::bench::BenchMachine::create(regions, true, &why);
  if (!m) {
    std::fprintf(stderr, "hosted_memdump: %s\n", why.c_str());
    return 1;
  }
  pf::PageAllocator& pages = m->pages();
  const uint64_t free_before = m->free_frames();
  dump(*m, pages, "boot");
  const pf::bench::HighOrderResult r = pf::bench::high_order_after_fragmentation(
      pages, pattern, pf::bench::kSeed, [&](const char* phase) { dump(*m, pages, phase); });
  std::fflush(stdout);
  std::fprintf(stderr,
               "hosted_memdump: %llu MiB, %s: filled %llu frames, freed %llu, order-9 blocks %llu "
               "(oracle %llu)\n",
               static_cast<unsigned long long>(mib), pf::bench::frag_pattern_name(pattern),
               static_cast<unsigned long long>(r.filled), static_cast<unsigned long long>(r.freed),
               static_cast<unsigned long long>(r.successes), static_cast<unsigned long long>(r.oracle));
  if (!m->check_as_found(free_before, &why)) {
    std::fprintf(stderr, "hosted_memdump: %s\n", why.c_str());
    return 1;
  }
  return r.successes == r.oracle ? 0 : 1;
}
