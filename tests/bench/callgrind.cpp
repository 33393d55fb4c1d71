// callgrind.cpp — the instruction-count mode (`make bench-callgrind`): the
// same workload bodies as the timed runs, a fixed number of operations
// each, counted by callgrind. Figures that a noisy 2-core machine cannot
// disturb.
//
// Two halves. run_callgrind_cases() runs under valgrind: per case it sets
// up, warms up, zeroes callgrind's counters, runs N operations and dumps the
// counters with the label "<case>/<allocator> ops=N" (one file per dump).
// report_callgrind() runs natively afterwards: it reads those files, divides
// each total by N and hands the figures to the usual report.
//
// Only user-space instructions are counted: a system call's kernel work is
// invisible to callgrind, which is why mmap is not a peer in this mode.
#include <dirent.h>
#include <valgrind/callgrind.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "bulk.hpp"
#include "callgrind.hpp"
#include "report.hpp"
#include "slab_adaptor.hpp"
#include "workloads.hpp"

namespace pf::bench {

namespace {

constexpr size_t kPairs = 20000;
constexpr size_t kBatchRounds = 20;
constexpr uint64_t kRam = 1 * GiB;

// Runs `unit` `warm` times, then `n` times between a counter reset and a
// dump labelled "<label> ops=<n * ops_per_unit>".
template <typename Unit>
bool measure(const std::string& label, size_t warm, size_t n, size_t ops_per_unit, Unit unit) {
  for (size_t i = 0; i < warm; ++i)
    if (!unit()) return false;
  const std::string dump = label + " ops=" + std::to_string(n * ops_per_unit);
  CALLGRIND_ZERO_STATS;
  for (size_t i = 0; i < n; ++i)
    if (!unit()) return false;
  CALLGRIND_DUMP_STATS_AT(dump.c_str());
  return true;
}

template <typename A>
bool page_cases(A& a) {
  const char* name = A::kName;
  bool ok = measure(std::string("pages.pair/") + name, 1000, kPairs, 1, [&] { return pair_once(a); });
  for (size_t n : {size_t{512}, size_t{16384}}) {
    const std::vector<uint32_t> perm = free_permutation(n, FreeOrder::Random);
    std::vector<typename A::Page> held(n);
    const size_t rounds = n > 512 ? 2 : kBatchRounds;
    ok = ok && measure("pages.batch" + std::to_string(n) + ".random/" + name, 1, rounds, n,
                       [&] { return batch_once(a, std::span(held), std::span(perm)); });
  }
  return ok;
}

template <typename A>
bool object_cases(A& a, size_t size) {
  const char* name = A::kName;
  std::vector<void*> held(1024);
  bool ok = measure("slab.pair." + std::to_string(size) + "/" + name, 1000, kPairs, 1,
                    [&] { return object_pair_once(a, size); });
  ok = ok && measure("slab.batch1024." + std::to_string(size) + "/" + name, 1, kBatchRounds, 1024,
                     [&] { return object_batch_once(a, size, std::span(held)); });
  return ok;
}

bool ours_pages() {
  std::string why;
  auto m = BenchMachine::with_ram(kRam, &why);
  if (!m) {
    std::fprintf(stderr, "callgrind: %s\n", why.c_str());
    return false;
  }
  OursPages a{&m->pages()};
  bool ok = page_cases(a);
  for (size_t n : {size_t{512}, size_t{16384}}) {
    const std::vector<uint32_t> perm = free_permutation(n, FreeOrder::Random);
    std::vector<PhysAddr> held(n);
    ok = ok && measure("pages.batch" + std::to_string(n) + ".random/ours-bulk", 1, n > 512 ? 2 : kBatchRounds, n,
                       [&] { return page_bulk_batch_once(m->pages(), std::span(held), std::span(perm)); });
  }
  return ok;
}

// Out of line, so that ours_objects (the kmalloc and cache rows) is compiled
// as it was without this variant: its instruction counts stay comparable.
[[gnu::noinline]] bool sized_object_cases(SlabAllocator* slab, size_t size) {
  OursKmallocSized ks{slab};
  return object_cases(ks, size);
}

bool ours_objects(size_t size) {
  std::string why;
  auto m = BenchMachine::with_ram(kRam, &why);
  if (!m) return false;
  auto slab = std::make_unique<SlabAllocator>();
  if (slab->init(m->pages(), SlabConfig{.cpu_count = kBenchCpus}) != PF_OK) return false;
  OursKmalloc k{slab.get()};
  bool ok = object_cases(k, size) && sized_object_cases(slab.get(), size);
  KmemCache* cache = slab->cache_create("bench", size, 0, 0, nullptr);
  if (cache == nullptr) return false;
  OursCache c{slab.get(), cache};
  ok = ok && object_cases(c, size);
  std::vector<void*> held(1024);
  ok = ok && measure("slab.batch1024." + std::to_string(size) + "/cache-bulk", 1, kBatchRounds, 1024,
                     [&] { return object_bulk_batch_once(c, std::span(held)); });
  slab->cache_destroy(cache);
  slab->teardown();
  return ok;
}

template <typename P>
bool peer_all() {
  P a{};
  bool ok = page_cases(a);
  for (size_t size : {size_t{64}, size_t{1024}, size_t{4096}}) ok = ok && object_cases(a, size);
  return ok;
}

bool read_dump(const std::string& path, Result* out) {
  std::ifstream in(path);
  std::string label;
  double total = -1;
  for (std::string line; std::getline(in, line);) {
    const std::string trigger = "desc: Trigger: Client Request: ";
    if (line.rfind(trigger, 0) == 0) label = line.substr(trigger.size());
    if (line.rfind("totals: ", 0) == 0) total = std::stod(line.substr(8));
  }
  const size_t ops_at = label.rfind(" ops=");
  const size_t slash = label.rfind('/', ops_at);
  if (label.empty() || total < 0 || ops_at == std::string::npos || slash == std::string::npos)
    return false;
  const double ops = std::stod(label.substr(ops_at + 5));
  out->case_name = label.substr(0, slash);
  out->allocator = label.substr(slash + 1, ops_at - slash - 1);
  out->per_op = total / ops;
  out->counters["ops"] = ops;
  return true;
}

// The two figures issue 9 asks `make bench-callgrind` for, as plain lines:
// instructions of an alloc_pages+free_pages pair (order 0) and of a
// kmalloc+kfree pair (64 B, 1 KiB and 4 KiB), beside the floor and the peers.
std::string pair_summary(const std::vector<Result>& results) {
  auto find = [&](const std::string& c, const char* a) -> const Result* {
    for (const Result& r : results)
      if (r.case_name == c && r.allocator == a) return &r;
    return nullptr;
  };
  auto line = [&](const std::string& what, const std::string& c, const char* ours, const char* const* others,
                  size_t n_others) {
    const Result* r = find(c, ours);
    if (r == nullptr) return "callgrind: " + what + ": not measured\n";
    char buf[128];
    std::snprintf(buf, sizeof buf, "callgrind: %s: %.0f instructions", what.c_str(), r->per_op);
    std::string s = buf;
    const char* sep = " (";
    for (size_t i = 0; i < n_others; ++i) {
      const Result* o = find(c, others[i]);
      if (o == nullptr) continue;
      std::snprintf(buf, sizeof buf, "%s%s %.0f", sep, others[i], o->per_op);
      s += buf;
      sep = ", ";
    }
    return s + (std::string(sep) == ", " ? ")\n" : "\n");
  };
  static const char* const kPagePeers[] = {"ideal", "tcmalloc", "mimalloc", "jemalloc", "glibc"};
  static const char* const kObjectPeers[] = {"tcmalloc", "mimalloc", "jemalloc", "glibc"};
  std::string s = "\n";
  s += line("alloc_pages+free_pages pair (order 0)", "pages.pair", "ours", kPagePeers, std::size(kPagePeers));
  for (const char* size : {"64", "1024", "4096"}) {
    const std::string c = std::string("slab.pair.") + size;
    s += line(std::string("kmalloc+kfree pair (") + size + " B)", c, "kmalloc", kObjectPeers,
              std::size(kObjectPeers));
    s += line(std::string("kmalloc+kfree_sized pair (") + size + " B)", c, "kmalloc-sized", kObjectPeers,
              std::size(kObjectPeers));
    s += line(std::string("kmem_cache_alloc+kmem_cache_free pair (") + size + " B)", c, "cache", kObjectPeers,
              std::size(kObjectPeers));
  }
  return s;
}

}  // namespace

int run_callgrind_cases() {
  bool ok = ours_pages();
  {
    IdealStack stack(kRam / kPage);
    Ideal ideal{&stack};
    ok = ok && page_cases(ideal);
  }
  for (size_t size : {size_t{64}, size_t{1024}, size_t{4096}}) ok = ok && ours_objects(size);
  ok = ok && peer_all<Glibc>() && peer_all<Mimalloc>() && peer_all<Jemalloc>() && peer_all<Tcmalloc>();
  if (!ok) std::fprintf(stderr, "callgrind: a case failed to run\n");
  return ok ? 0 : 1;
}

int report_callgrind(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> files;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      const std::string name = e->d_name;
      if (name.rfind(prefix + ".", 0) == 0) files.push_back(dir + "/" + name);
    }
    closedir(d);
  }
  // Dumps are numbered in the order they were taken.
  auto number = [&](const std::string& f) { return std::stol(f.substr(f.rfind('.') + 1)); };
  std::sort(files.begin(), files.end(),
            [&](const std::string& a, const std::string& b) { return number(a) < number(b); });
  std::vector<Result> results;
  for (const std::string& f : files) {
    Result r;
    r.order = static_cast<int64_t>(results.size());
    if (read_dump(f, &r)) results.push_back(std::move(r));
  }
  if (results.empty()) {
    std::fprintf(stderr, "callgrind: no dumps named %s.N in %s\n", prefix.c_str(), dir.c_str());
    return 1;
  }
  ReportOptions options;
  options.dir = dir;
  options.title = "pfalloc vs peers: instructions per operation (callgrind)";
  options.machine_note =
      "Instructions executed per operation, counted by callgrind over a fixed number of "
      "operations after a warm-up (user space only: kernel work inside system calls is not "
      "counted). Stable across runs and machines with the same compiler and libraries. " +
      describe_machine() + ".";
  options.unit = "instructions";
  options.chart_note = "instructions per operation, ours / peer; " + describe_machine();
  const int failures = write_report(results, {}, options);
  const std::string pairs = pair_summary(results);
  std::fputs(pairs.c_str(), stdout);
  std::ofstream(dir + "/results.md", std::ios::app) << pairs;
  return failures == 0 ? 0 : 1;
}

}  // namespace pf::bench
