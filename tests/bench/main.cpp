// main.cpp — the bench binary: registers issue 6's workloads, runs them with
// Google Benchmark (flags as usual: --benchmark_repetitions, ...), and ends
// with the report step (report.hpp). Own flags, removed before Google
// Benchmark sees the rest:
//   --report_dir=DIR        write results.md and results.svg there
//   --label=TEXT            what was measured (bench.mk: the git commit)
//   --smoke                 small configuration; exit 1 if a property fails
//   --callgrind_run         instruction-count cases (run under callgrind)
//   --callgrind_report=DIR:PREFIX   report the dumps DIR/PREFIX.N
// Exit status: 1 when a benchmark could not run or a property (high order
// vs oracle, descriptor size) failed; timing targets never fail the run.
#include <gnu/libc-version.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "callgrind.hpp"
#include "registry.hpp"
#include "report.hpp"

extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen);

namespace {

bool take_flag(const char* arg, const char* name, std::string* value) {
  const size_t n = std::strlen(name);
  if (std::strncmp(arg, name, n) != 0) return false;
  if (arg[n] == '=') {
    *value = arg + n + 1;
    return true;
  }
  if (arg[n] == '\0') {
    *value = "1";
    return true;
  }
  return false;
}

std::string peer_versions() {
  const char* je = "?";
  size_t len = sizeof je;
  mallctl("version", &je, &len, nullptr, 0);
  int major = 0, minor = 0;
  const char* patch = "";
  tc_version(&major, &minor, &patch);
  char buf[256];
  std::snprintf(buf, sizeof buf, "glibc %s, mimalloc %d.%d.%d, jemalloc %.5s, tcmalloc %d.%d%s",
                gnu_get_libc_version(), mi_version() / 100, mi_version() / 10 % 10,
                mi_version() % 10, je, major, minor, patch);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace pf::bench;
  std::string report_dir, label, smoke, cg_run, cg_report, repetitions = "1";
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (take_flag(argv[i], "--report_dir", &report_dir) || take_flag(argv[i], "--label", &label) ||
        take_flag(argv[i], "--smoke", &smoke) ||
        take_flag(argv[i], "--callgrind_run", &cg_run) ||
        take_flag(argv[i], "--callgrind_report", &cg_report))
      continue;
    std::string reps;
    if (take_flag(argv[i], "--benchmark_repetitions", &reps)) repetitions = reps;
    rest.push_back(argv[i]);
  }
  // The benchmark thread is CPU slot 0 (the cross-thread consumer takes 1).
  pf::hosted::set_this_thread_cpu(0);

  if (!cg_run.empty()) return run_callgrind_cases();
  if (!cg_report.empty()) {
    const size_t colon = cg_report.find(':');
    return report_callgrind(cg_report.substr(0, colon),
                            colon == std::string::npos ? "callgrind.out" : cg_report.substr(colon + 1));
  }

  const RegisterOptions options{.smoke = !smoke.empty()};
  register_page_benchmarks(options);
  register_slab_benchmarks(options);
  register_cross_thread_benchmarks(options);
  register_init_benchmarks(options);
  register_bulk_benchmarks(options);

  int bench_argc = static_cast<int>(rest.size());
  rest.push_back(nullptr);
  benchmark::Initialize(&bench_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, rest.data())) return 1;

  const double load_before = load_average_1min();
  std::printf("peers: %s; process malloc is %s\n", peer_versions().c_str(),
              process_malloc_is_glibc() ? "glibc's" : "NOT glibc's");
  CollectingReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  const double load_after = load_average_1min();

  char note[1024];
  std::snprintf(note, sizeof note,
                "pfalloc %s on %s. Peers: %s. Medians of %s repetition(s)%s; 1-minute load "
                "average %.2f before and %.2f after the run. Times per operation; ratio = ours / "
                "peer (below 1: ours is faster).",
                label.empty() ? "(working tree)" : label.c_str(), describe_machine().c_str(),
                peer_versions().c_str(), repetitions.c_str(),
                repetitions == "1" ? "" : ", randomly interleaved", load_before, load_after);
  ReportOptions report;
  report.dir = report_dir;
  report.title = "pfalloc vs peers: time per operation";
  report.machine_note = note;
  report.unit = "ns";
  char chart_note[512];
  std::snprintf(chart_note, sizeof chart_note,
                "pfalloc %s; %s; medians of %s run(s); load %.2f/%.2f before/after",
                label.empty() ? "(working tree)" : label.c_str(), describe_machine().c_str(),
                repetitions.c_str(), load_before, load_after);
  report.chart_note = chart_note;
  const int failures = write_report(reporter.results, reporter.errors, report);
  if (failures > 0) std::printf("\n%d benchmark(s) failed or properties did not hold\n", failures);
  return failures > 0 ? 1 : 0;
}
