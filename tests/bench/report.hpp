// report.hpp — the report step: medians in, Markdown table, SVG chart of the
// ratios ours/peer, and the targets checked with plain "MISSED"
// lines. Runs inside the bench binary (a reporter that collects the medians
// as Google Benchmark prints them), so `make bench` needs nothing but g++.
//
// Input contract (registry.hpp): each result is "<case>/<allocator>" with a
// value per operation; ours are "ours", "kmalloc" and "cache"; every other
// allocator is a peer or a floor.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

namespace pf::bench {

struct Result {
  std::string case_name;
  std::string allocator;
  double per_op = 0;  // ns per operation (or instructions, in callgrind mode)
  int64_t order = 0;  // registration order: tables follow it, not the run order
  std::map<std::string, double> counters;
};

// Collects one result per benchmark: the median aggregate when there are
// repetitions, the single run otherwise; errors by name. Prints as the
// console reporter does.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override;
  std::vector<Result> results;
  std::vector<std::string> errors;
};

struct ReportOptions {
  std::string dir;           // where results.md / results.svg go ("" = none)
  std::string title;         // first heading
  std::string machine_note;  // one paragraph describing machine and run
  std::string chart_note;    // one short line under the chart's title
  std::string unit;          // "ns" or "instructions"
  bool check_targets = true;
};

// Writes the Markdown and SVG, prints the tables and the target lines to
// stdout. Returns the number of failed *properties* (errors, high order not
// at the oracle, descriptors over 16 bytes): timing targets never count.
int write_report(const std::vector<Result>& results, const std::vector<std::string>& errors,
                 const ReportOptions& options);

// "Linux 6.1, <cpu> x2, 23.4 GiB; load 0.12 (1 min)": what the report header says.
std::string describe_machine();
double load_average_1min();

}  // namespace pf::bench
