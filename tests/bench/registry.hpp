// registry.hpp — how the benchmark files register their cases, and the
// naming contract the report relies on.
//
// Every benchmark is named "<case>/<allocator>": the report groups by
// <case> and compares each of our allocators ("ours", "kmalloc", "cache";
// "ours-bulk" and "cache-bulk" for the bulk calls)
// with each peer of the same case. Every benchmark sets the counter
// kOpsCounter to the operations one iteration performs; the report divides
// the median time per iteration by it. Cases with threads use real time
// (their name then ends in "/real_time", which the report strips).
#pragma once

#include <string>
#include <type_traits>
#include <utility>

#include <benchmark/benchmark.h>

#include "fixture.hpp"
#include "ours.hpp"
#include "peers.hpp"

namespace pf::bench {

inline constexpr const char* kOpsCounter = "ops";

// Options every registration function receives.
struct RegisterOptions {
  bool smoke = false;  // tiny configuration: prove it runs, check properties
};

void register_page_benchmarks(const RegisterOptions& options);
void register_slab_benchmarks(const RegisterOptions& options);
void register_cross_thread_benchmarks(const RegisterOptions& options);
void register_init_benchmarks(const RegisterOptions& options);
void register_bulk_benchmarks(const RegisterOptions& options);  // bench_bulk.cpp

inline std::string bench_name(const std::string& case_name, const char* allocator) {
  return case_name + "/" + allocator;
}

// Runs `body(machine)` on a fresh machine with `ram_bytes` of usable memory,
// then checks that the body left it as found (verify() clean, every frame
// free again); either failure skips the benchmark with the reason.
template <typename Body>
void on_fresh_machine(benchmark::State& state, uint64_t ram_bytes, Body&& body) {
  std::string why;
  auto machine = BenchMachine::with_ram(ram_bytes, &why);
  if (!machine) {
    state.SkipWithError(why.c_str());
    return;
  }
  const uint64_t before = machine->free_frames();
  body(*machine);
  if (!state.error_occurred() && !machine->check_as_found(before, &why))
    state.SkipWithError(why.c_str());
}

// Runs `body(a)` with a fresh allocator of kind P: for ours a new machine
// with `ram_bytes` of usable memory, checked after the body (verify() clean,
// every frame free again); for the ideal stack one holding as many pages;
// for the other peers their process-wide state.
template <typename P, typename Body>
void with_pages(benchmark::State& state, uint64_t ram_bytes, Body&& body) {
  if constexpr (std::is_same_v<P, OursPages>) {
    on_fresh_machine(state, ram_bytes, [&](BenchMachine& machine) {
      OursPages a{&machine.pages()};
      body(a);
    });
  } else if constexpr (std::is_same_v<P, Ideal>) {
    IdealStack stack(ram_bytes / kPage);
    Ideal a{&stack};
    body(a);
  } else {
    P a{};
    body(a);
  }
}

}  // namespace pf::bench
