// bench_init.cpp — workloads 6 and 7 of issue 6: initialisation of 1, 16
// and 256 GiB maps, as one range and as an E820-like map with holes, against
// the floor of a memset over a descriptor array of the same size; and the
// descriptor bytes per frame, as counters.
//
// Both sides run on warm memory: each map's hosted window is created once,
// and every run starts with one untimed init (first touch of the descriptor
// pages would otherwise be measured, and that is the host kernel's
// page-fault cost, not ours). The floor is one memset of 16 bytes per frame
// of every range (what init must clear), in that map's window from the
// first descriptor array on (the first init records where: init puts every
// array in one span when it can, and then these are exactly its bytes),
// with one untimed pass. One call: a large memset streams past the caches
// and several smaller ones do not, so splitting the floor would flatter us.
// In the window, not a separate buffer: on these VMs two equal, warm 1 GiB
// buffers in one process take up to 2x apart to memset (what backs them on
// the host differs), so a separate floor measured which memory each side
// got rather than what init costs over a memset. A 256 GiB map has 1 GiB of
// descriptors, so the windows live for the whole run (~1.1 GiB resident).

#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "registry.hpp"

namespace pf::bench {

namespace {

enum class Shape { OneRange, E820 };
const char* shape_name(Shape s) { return s == Shape::OneRange ? "one_range" : "e820"; }

struct InitSetup {
  std::unique_ptr<BenchMachine> machine;  // map + window, allocator not initialised
  std::string why;                        // why machine is null
  uint64_t usable_frames = 0;
  uint64_t reserved_frames = 0;           // after init: descriptors and the like
  std::byte* floor_at = nullptr;          // the first descriptor array
  uint64_t floor_bytes = 0;               // 16 per frame of every range
};

// The map's window, and one verified init that records where the descriptor
// arrays go (every init of that map puts them at the same place).
InitSetup& init_setup(uint64_t gib, Shape shape) {
  static std::map<std::pair<uint64_t, Shape>, InitSetup> setups;
  InitSetup& s = setups[{gib, shape}];
  if (!s.machine && s.why.empty()) {
    auto regions = shape == Shape::OneRange ? one_range_map(gib * GiB) : e820_map(gib * GiB);
    s.machine = BenchMachine::create(regions, false, &s.why);
    if (!s.machine) return s;
    s.usable_frames = s.machine->map().usable_frames();
    auto pa = std::make_unique<PageAllocator>();
    if (pa->init(s.machine->map(), s.machine->config()) != PF_OK || !pa->verify()) {
      s.machine.reset();
      s.why = "init or verify failed";
      return s;
    }
    s.reserved_frames = pa->counters().reserved_frames;
    PhysAddr first{~uint64_t{0}};
    for (size_t i = 0; i < pa->range_count(); ++i) {
      const PageAllocator::RangeInfo r = pa->range_info(i);
      if (r.descriptors < first) first = r.descriptors;
      s.floor_bytes += (r.end - r.base) / kPageSize * sizeof(FrameDescriptor);
    }
    if (first + s.floor_bytes > s.machine->memory().high()) {
      s.machine.reset();
      s.why = "the floor's bytes run past the window";
      return s;
    }
    s.floor_at = s.machine->memory().to_virt<std::byte>(first);
  }
  return s;
}

std::string case_name(uint64_t gib, Shape shape) {
  return "init." + std::to_string(gib) + "g." + shape_name(shape);
}

void add_ours(uint64_t gib, Shape shape) {
  benchmark::RegisterBenchmark(
      bench_name(case_name(gib, shape), "ours").c_str(),
      [gib, shape](benchmark::State& state) {
        InitSetup& s = init_setup(gib, shape);
        if (!s.machine) {
          state.SkipWithError(s.why.c_str());
          return;
        }
        const PageAllocatorConfig config = s.machine->config();
        // One untimed init per run: it touches every descriptor page again
        // (the kernel may have reclaimed idle ones since the last run).
        if (std::make_unique<PageAllocator>()->init(s.machine->map(), config) != PF_OK) {
          state.SkipWithError("init failed");
          return;
        }
        std::unique_ptr<PageAllocator> pa;
        for (auto _ : state) {
          pa = std::make_unique<PageAllocator>();
          if (pa->init(s.machine->map(), config) != PF_OK) [[unlikely]] {
            state.SkipWithError("init failed");
            break;
          }
        }
        state.counters[kOpsCounter] = 1;
        state.counters["usable_frames"] = static_cast<double>(s.usable_frames);
        state.counters["desc_bytes_per_frame"] =
            static_cast<double>(PageAllocator::descriptor_bytes_per_frame());
        state.counters["reserved_bytes_per_frame"] =
            static_cast<double>(s.reserved_frames * kPageSize) / static_cast<double>(s.usable_frames);
      })
      ->Unit(benchmark::kMillisecond);
}

void add_floor(uint64_t gib, Shape shape) {
  benchmark::RegisterBenchmark(
      bench_name(case_name(gib, shape), "memset").c_str(),
      [gib, shape](benchmark::State& state) {
        InitSetup& s = init_setup(gib, shape);
        if (!s.machine) {
          state.SkipWithError(s.why.c_str());
          return;
        }
        // No allocator lives in the window now: ours' runs end with theirs.
        std::memset(s.floor_at, 1, s.floor_bytes);  // untimed
        for (auto _ : state) {
          std::memset(s.floor_at, 0, s.floor_bytes);
          benchmark::ClobberMemory();
        }
        state.counters[kOpsCounter] = 1;
        state.counters["usable_frames"] = static_cast<double>(s.usable_frames);
        state.counters["floor_bytes"] = static_cast<double>(s.floor_bytes);
      })
      ->Unit(benchmark::kMillisecond);
}

}  // namespace

void register_init_benchmarks(const RegisterOptions& options) {
  for (uint64_t gib : {uint64_t{1}, uint64_t{16}, uint64_t{256}}) {
    if (options.smoke && gib > 16) continue;  // 1 GiB of descriptors: not for a smoke run
    for (Shape shape : {Shape::OneRange, Shape::E820}) {
      add_ours(gib, shape);
      add_floor(gib, shape);
    }
  }
}

}  // namespace pf::bench
