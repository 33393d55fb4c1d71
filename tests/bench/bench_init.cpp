// bench_init.cpp — workloads 6 and 7 of issue 6: initialisation of 1, 16
// and 256 GiB maps, as one range and as an E820-like map with holes, against
// the floor of a memset over a descriptor array of the same size; and the
// descriptor bytes per frame, as counters.
//
// Both sides run on warm memory: each map's hosted window is created once,
// and every run starts with one untimed init (first touch of the descriptor
// pages would otherwise be measured, and that is the host kernel's
// page-fault cost, not ours); the memset buffer gets one untimed pass too. A 256 GiB map has
// 1 GiB of descriptors, so the windows live for the whole run (~1.1 GiB
// resident, plus the same for the memset buffer).
#include <sys/mman.h>

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
  bool verified = false;                  // the first init was verified
  uint64_t usable_frames = 0;
  uint64_t reserved_frames = 0;           // after init: descriptors and the like
};

InitSetup& init_setup(uint64_t gib, Shape shape) {
  static std::map<std::pair<uint64_t, Shape>, InitSetup> setups;
  InitSetup& s = setups[{gib, shape}];
  if (!s.machine && s.why.empty()) {
    auto regions = shape == Shape::OneRange ? one_range_map(gib * GiB) : e820_map(gib * GiB);
    s.machine = BenchMachine::create(regions, false, &s.why);
    if (s.machine) s.usable_frames = s.machine->map().usable_frames();
  }
  return s;
}

// The memset floor's buffer: one mapping, grown to the largest size asked
// for, touched once before use.
std::byte* floor_buffer(size_t bytes) {
  static std::byte* buffer = nullptr;
  static size_t size = 0;
  if (bytes > size) {
    if (buffer != nullptr) munmap(buffer, size);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return nullptr;
    buffer = static_cast<std::byte*>(p);
    size = bytes;
  }
  return buffer;
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
        // (the kernel may have reclaimed idle ones since the last run), and
        // the first one is verified.
        {
          auto pa = std::make_unique<PageAllocator>();
          if (pa->init(s.machine->map(), config) != PF_OK || (!s.verified && !pa->verify())) {
            state.SkipWithError("init or verify failed");
            return;
          }
          s.reserved_frames = pa->counters().reserved_frames;
          s.verified = true;
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
        const size_t bytes = s.usable_frames * sizeof(FrameDescriptor);
        std::byte* buffer = floor_buffer(bytes);
        if (buffer == nullptr) {
          state.SkipWithError("mmap of the memset buffer failed");
          return;
        }
        std::memset(buffer, 1, bytes);  // untimed, as ours gets one untimed init
        for (auto _ : state) {
          std::memset(buffer, 0, bytes);
          benchmark::ClobberMemory();
        }
        state.counters[kOpsCounter] = 1;
        state.counters["usable_frames"] = static_cast<double>(s.usable_frames);
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
