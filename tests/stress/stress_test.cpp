// stress_test.cpp — the whole allocator under many threads at once (issue 9):
// the public C API (one global instance set up by pf_init) and the C++
// classes (a PageAllocator and SlabAllocator on a test Machine), each driven
// by the same workload.
//
// The workload: more threads than CPU caches, each mixing pages of orders
// 0..6 from every zone (DMA, DMA32, Normal by flags), kmalloc of sizes 1 B to
// 64 KiB, a kmem_cache with a constructor (its pattern checked on every
// allocation), contiguous ranges with alignment, boundary and an address
// limit, and the bulk calls (alloc_pages_bulk, kmem_cache_alloc_bulk and
// kmem_cache_free_bulk, one small allocation in six). About one free in eight is handed to another thread through its
// mailbox and freed there. A controller thread runs verify() of both layers
// every few ms, alternating with reclaim, cache shrink and page drains.
// Workers run in two waves, so CPU slots are given back at thread exit and
// taken again by new threads.
//
// Every allocation is filled with a pattern derived from its own tag and
// checked at free: one block or object handed to two owners shows as a
// changed pattern. At the end: the constructor cache destroys clean, verify()
// is clean and the free-frame count (caches drained) is exactly as before.
//
// Size from the environment (defaults: a few seconds, for `make test`):
//   PFALLOC_STRESS_OPS      operations (allocations + frees) over all threads
//   PFALLOC_STRESS_THREADS  workers per wave (at least 2)
//   PFALLOC_STRESS_SEED     base seed; thread t of wave w uses seed + 1000w + t
// A failure prints the seed, thread count and operation count to rerun it.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/error.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/pfalloc.h"
#include "kernel/mm/slab.hpp"
#include "tests/unit/machine.hpp"

namespace pf {
namespace {

// ---- configuration ---------------------------------------------------------

#ifdef PFALLOC_TSAN
constexpr uint64_t kDefaultOps = 300'000;
#else
constexpr uint64_t kDefaultOps = 2'000'000;
#endif
// CPU caches of the allocators under test; the workers outnumber them, so
// some run on their own CPU's cache and the rest take the shared path.
constexpr unsigned kCpuCount = 4;
constexpr unsigned kWaves = 2;
// Frames of pages all workers of a wave hold at most (64 MiB).
constexpr uint64_t kFrameBudget = 16384;

uint64_t env_u64(const char* name, uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  return std::strtoull(s, nullptr, 0);
}

struct StressConfig {
  uint64_t ops;
  unsigned threads;
  uint64_t seed;
  unsigned cpu_count = kCpuCount;  // of the allocator under test
  uint64_t env_ops = 0;            // as read from the environment (a test may
  unsigned env_threads = 0;        // derive its own figures from them)

  static StressConfig from_env() {
    StressConfig c;
    c.ops = env_u64("PFALLOC_STRESS_OPS", kDefaultOps);
    c.threads = static_cast<unsigned>(env_u64("PFALLOC_STRESS_THREADS", 2 * kCpuCount));
    if (c.threads < 2) c.threads = 2;
    c.seed = env_u64("PFALLOC_STRESS_SEED", 0x5eed'0009);
    c.env_ops = c.ops;
    c.env_threads = c.threads;
    return c;
  }
  std::string rerun() const {
    const ::testing::TestInfo* t = ::testing::UnitTest::GetInstance()->current_test_info();
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  "PFALLOC_STRESS_SEED=0x%" PRIx64 " PFALLOC_STRESS_THREADS=%u PFALLOC_STRESS_OPS=%" PRIu64
                  " --gtest_filter=%s.%s",
                  seed, env_threads, env_ops, t ? t->test_suite_name() : "*", t ? t->name() : "*");
    return buf;
  }
};

// ---- failures, from any thread ------------------------------------------------

// Collects failures from workers, the controller and the error handler; the
// first few are kept word for word.
class Failures {
 public:
  void add(const std::string& what) {
    count_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> g(mu_);
    if (first_.size() < 12) first_.push_back(what);
  }
  uint64_t count() const { return count_.load(); }
  std::string text() const {
    std::lock_guard<std::mutex> g(mu_);
    std::string s;
    for (const std::string& f : first_) s += "  " + f + "\n";
    return s;
  }

 private:
  std::atomic<uint64_t> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> first_;
};

// While alive, every report of the core (misuse, failed verify) becomes a
// failure instead of an abort, so the run ends with the seed printed.
class ReportsAsFailures {
 public:
  explicit ReportsAsFailures(Failures& f) : failures_(f) { old_ = set_error_handler(&on_report, this); }
  ~ReportsAsFailures() { set_error_handler(old_.handler, old_.context); }
  ReportsAsFailures(const ReportsAsFailures&) = delete;
  ReportsAsFailures& operator=(const ReportsAsFailures&) = delete;

 private:
  static void on_report(const ErrorReport& r, void* self) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "allocator report: %s (address 0x%" PRIx64 ")",
                  r.message != nullptr ? r.message : "(no message)", r.address);
    static_cast<ReportsAsFailures*>(self)->failures_.add(buf);
  }
  Failures& failures_;
  ErrorHandlerSlot old_{};
};

// ---- patterns --------------------------------------------------------------------

constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ull;

// Word i of an object is tag + i * golden; a tail shorter than a word gets
// bytes of the same. Objects are at least 8-byte aligned.
void fill_object(void* p, size_t n, uint64_t tag) {
  auto* w = static_cast<uint64_t*>(p);
  const size_t words = n / 8;
  for (size_t i = 0; i < words; ++i) w[i] = tag + i * kGolden;
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = words * 8; i < n; ++i) b[i] = static_cast<unsigned char>(tag >> (8 * (i % 8)));
}
bool object_intact(const void* p, size_t n, uint64_t tag) {
  const auto* w = static_cast<const uint64_t*>(p);
  const size_t words = n / 8;
  for (size_t i = 0; i < words; ++i)
    if (w[i] != tag + i * kGolden) return false;
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = words * 8; i < n; ++i)
    if (b[i] != static_cast<unsigned char>(tag >> (8 * (i % 8)))) return false;
  return true;
}

// Pages: the first and last word of every frame (cheap, and enough to see a
// frame that two owners hold).
void fill_frames(std::byte* p, uint64_t frames, uint64_t tag) {
  for (uint64_t f = 0; f < frames; ++f) {
    auto* frame = reinterpret_cast<uint64_t*>(p + f * kPageSize);
    frame[0] = tag ^ (f * kGolden);
    frame[kPageSize / 8 - 1] = ~tag + f;
  }
}
bool frames_intact(const std::byte* p, uint64_t frames, uint64_t tag) {
  for (uint64_t f = 0; f < frames; ++f) {
    const auto* frame = reinterpret_cast<const uint64_t*>(p + f * kPageSize);
    if (frame[0] != (tag ^ (f * kGolden)) || frame[kPageSize / 8 - 1] != ~tag + f) return false;
  }
  return true;
}

// The constructor cache: objects of kCtorSize bytes whose constructed state
// is this byte pattern. The workload checks it on every allocation, writes
// its own tag, and puts the constructed state back before the free (the
// kmem_cache contract: objects are freed constructed).
constexpr size_t kCtorSize = 200;
unsigned char ctor_byte(size_t i) { return static_cast<unsigned char>(0xc3 ^ (i * 29)); }
std::atomic<uint64_t> g_ctor_calls{0};
void stress_ctor(void* p) {
  auto* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < kCtorSize; ++i) b[i] = ctor_byte(i);
  g_ctor_calls.fetch_add(1, std::memory_order_relaxed);
}
bool constructed(const void* p) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < kCtorSize; ++i)
    if (b[i] != ctor_byte(i)) return false;
  return true;
}

// ---- the two ways in: C API and C++ classes ---------------------------------------

// Bulk calls (alloc_pages_bulk, kmem_cache_alloc_bulk/free_bulk) take at most
// this many at once.
constexpr size_t kMaxBulk = 8;

// The public API of pfalloc.h over the global instance, set up once per
// process with a map that has all three zones: low RAM, 1..80 MiB (DMA and
// DMA32) and 64 MiB above 4 GiB (Normal).
class CApiTarget {
 public:
  static CApiTarget& instance() {
    static CApiTarget t;
    return t;
  }
  bool ok() const { return ok_; }

  uint64_t alloc_pages(unsigned order, gfp_t flags) { return ::alloc_pages(order, flags); }
  void free_pages(uint64_t phys, unsigned order) { ::free_pages(phys, order); }
  uint64_t alloc_contig(uint64_t frames, uint64_t align, uint64_t boundary, uint64_t max_addr, gfp_t flags) {
    return ::alloc_contig(frames, align, boundary, max_addr, flags);
  }
  void free_contig(uint64_t phys, uint64_t frames) { ::free_contig(phys, frames); }
  void* kmalloc(size_t size, gfp_t flags) { return ::kmalloc(size, flags); }
  void kfree(void* p) { ::kfree(p); }
  bool create_cache() {
    cache_ = kmem_cache_create("stress-ctor", kCtorSize, 0, 0, &stress_ctor);
    return cache_ != nullptr;
  }
  void* cache_alloc(gfp_t flags) { return kmem_cache_alloc(cache_, flags); }
  void cache_free(void* p) { kmem_cache_free(cache_, p); }
  size_t alloc_pages_bulk(unsigned order, gfp_t flags, size_t count, uint64_t* out) {
    return ::alloc_pages_bulk(order, flags, count, out);
  }
  size_t cache_alloc_bulk(gfp_t flags, size_t count, void** out) {
    return static_cast<size_t>(kmem_cache_alloc_bulk(cache_, flags, count, out));
  }
  void cache_free_bulk(size_t count, void** objects) { kmem_cache_free_bulk(cache_, count, objects); }
  size_t destroy_cache() { return kmem_cache_destroy(cache_); }
  size_t shrink_cache() { return kmem_cache_shrink(cache_); }
  bool verify() { return pf_verify() == 0; }
  void reclaim() { pf_reclaim(); }
  void drain_pages() { pf_drain_pages(); }
  // Free frames with every cache emptied.
  uint64_t settled_free_frames() {
    pf_reclaim();
    pf_counters c{};
    pf_get_counters(&c);
    return c.free_frames;
  }
  std::byte* to_virt(uint64_t phys) { return memory_.to_virt(PhysAddr{phys}); }

 private:
  CApiTarget() {
    const pf_region map[] = {
        {0x0, 0x9fc00, PF_REGION_USABLE},
        {0x100000, 79 * MiB, PF_REGION_USABLE},
        {4 * GiB, 64 * MiB, PF_REGION_USABLE},
    };
    if (!memory_.reserve(PhysAddr{0}, PhysAddr{4 * GiB + 64 * MiB})) return;
    pf_config config{};
    config.direct_map_offset = memory_.direct_map_offset();
    config.cpu_count = kCpuCount;
    ok_ = pf_init(&config, map, 3, nullptr, 0) == PF_OK;
  }
  hosted::HostedMemory memory_;
  kmem_cache* cache_ = nullptr;
  bool ok_ = false;
};

// PageAllocator and SlabAllocator used directly, on a Machine with the same
// three zones.
class ClassTarget {
 public:
  explicit ClassTarget(unsigned cpu_count)
      : machine_({{.base = 1 * MiB, .length = 79 * MiB, .type = RegionType::Usable},
                  {.base = 4 * GiB, .length = 64 * MiB, .type = RegionType::Usable}},
                 PageAllocatorConfig{.cpu_count = cpu_count}) {
    ok_ = machine_.ok() && slab_.init(machine_.pages(), SlabConfig{.cpu_count = cpu_count}) == PF_OK;
  }
  ~ClassTarget() {
    if (slab_.initialised()) slab_.teardown();
  }
  bool ok() const { return ok_; }
  PageAllocator& pages() { return machine_.pages(); }

  uint64_t alloc_pages(unsigned order, gfp_t flags) { return pages().alloc_pages(Order{order}, flags).value; }
  void free_pages(uint64_t phys, unsigned order) { pages().free_pages(PhysAddr{phys}, Order{order}); }
  uint64_t alloc_contig(uint64_t frames, uint64_t align, uint64_t boundary, uint64_t max_addr, gfp_t flags) {
    return pages().alloc_contig(frames, {.align = align, .boundary = boundary, .max_addr = max_addr, .flags = flags}).value;
  }
  void free_contig(uint64_t phys, uint64_t frames) { pages().free_contig(PhysAddr{phys}, frames); }
  void* kmalloc(size_t size, gfp_t flags) { return slab_.kmalloc(size, flags); }
  void kfree(void* p) { slab_.kfree(p); }
  bool create_cache() {
    cache_ = slab_.cache_create("stress-ctor", kCtorSize, 0, 0, &stress_ctor);
    return cache_ != nullptr;
  }
  void* cache_alloc(gfp_t flags) { return slab_.cache_alloc(cache_, flags); }
  void cache_free(void* p) { slab_.cache_free(cache_, p); }
  size_t alloc_pages_bulk(unsigned order, gfp_t flags, size_t count, uint64_t* out) {
    PhysAddr got[kMaxBulk];
    const size_t n = pages().alloc_pages_bulk(Order{order}, flags, count, got);
    for (size_t i = 0; i < n; ++i) out[i] = got[i].value;
    return n;
  }
  size_t cache_alloc_bulk(gfp_t flags, size_t count, void** out) {
    return slab_.cache_alloc_bulk(cache_, flags, count, out);
  }
  void cache_free_bulk(size_t count, void** objects) { slab_.cache_free_bulk(cache_, count, objects); }
  size_t destroy_cache() { return slab_.cache_destroy(cache_); }
  size_t shrink_cache() { return slab_.cache_shrink(cache_); }
  bool verify() { return slab_.verify() && pages().verify(); }
  void reclaim() { slab_.shrink_all(); }
  void drain_pages() { pages().drain_cpu_caches(); }
  uint64_t settled_free_frames() {
    slab_.shrink_all();
    pages().drain_cpu_caches();
    return pages().counters().free_frames;
  }
  std::byte* to_virt(uint64_t phys) { return pages().to_virt(PhysAddr{phys}); }

 private:
  test::Machine machine_;
  SlabAllocator slab_;
  KmemCache* cache_ = nullptr;
  bool ok_ = false;
};

// ---- the workload ------------------------------------------------------------------

enum class Kind : uint8_t { Pages, Contig, Kmalloc, Ctor };

struct Item {
  Kind kind;
  uint8_t order;  // Pages
  uint32_t n;     // Contig: frames; Kmalloc: bytes
  uint64_t addr;  // phys (Pages, Contig) or pointer
  uint64_t tag;
};

struct alignas(64) Mailbox {
  std::mutex mu;
  std::vector<Item> items;
};

struct Tally {
  std::atomic<uint64_t> allocs{0}, frees{0}, remote_frees{0}, handed{0}, oom{0};
  std::atomic<uint64_t> pages_in_zone[kZoneCount]{}, contig{0}, kmallocs{0}, large_kmallocs{0}, ctor_allocs{0};
  std::atomic<uint64_t> verifies{0}, reclaims{0};
  std::atomic<uint64_t> bulk_page_calls{0}, bulk_cache_calls{0}, bulk_cache_frees{0};
};

Zone zone_of(uint64_t phys) {
  return phys < kDmaLimit ? Zone::Dma : phys < kDma32Limit ? Zone::Dma32 : Zone::Normal;
}

// One wave's worker threads and the controller.
template <typename Target>
class Workload {
 public:
  Workload(Target& t, const StressConfig& cfg, Failures& failures, Tally& tally)
      : t_(t), cfg_(cfg), failures_(failures), tally_(tally), boxes_(cfg.threads),
        max_frames_(std::min<uint64_t>(768, kFrameBudget / cfg.threads)) {}

  void run_wave(unsigned wave, uint64_t ops_per_thread) {
    done_.store(0);
    std::vector<std::thread> threads;
    for (unsigned i = 0; i < cfg_.threads; ++i)
      threads.emplace_back([this, wave, i, ops_per_thread] { worker(wave, i, ops_per_thread); });
    for (auto& th : threads) th.join();
  }

  // Every few ms until stop: verify(), and in turn reclaim, shrink, drain.
  void controller(const std::atomic<bool>& stop) {
    for (unsigned tick = 0; !stop.load(); ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
      if (!t_.verify()) failures_.add("verify() failed during the run (tick " + std::to_string(tick) + ")");
      tally_.verifies.fetch_add(1, std::memory_order_relaxed);
      switch (tick % 3) {
        case 0: t_.reclaim(); tally_.reclaims.fetch_add(1, std::memory_order_relaxed); break;
        case 1: t_.shrink_cache(); break;
        default: t_.drain_pages(); break;
      }
    }
  }

 private:
  static constexpr size_t kMaxLive = 192;

  void fail(unsigned wave, unsigned id, const char* what, const Item& it) {
    char buf[200];
    std::snprintf(buf, sizeof buf, "wave %u thread %u: %s (kind %d, addr 0x%" PRIx64 ", order/n %u/%u)",
                  wave, id, what, static_cast<int>(it.kind), it.addr, it.order, it.n);
    failures_.add(buf);
  }

  // Checks the pattern and gives the item back to the allocator.
  void release(unsigned wave, unsigned id, const Item& it) {
    switch (it.kind) {
      case Kind::Pages:
        if (!frames_intact(t_.to_virt(it.addr), uint64_t{1} << it.order, it.tag))
          fail(wave, id, "page pattern changed: handed out twice?", it);
        t_.free_pages(it.addr, it.order);
        break;
      case Kind::Contig:
        if (!frames_intact(t_.to_virt(it.addr), it.n, it.tag)) fail(wave, id, "contig pattern changed", it);
        t_.free_contig(it.addr, it.n);
        break;
      case Kind::Kmalloc: {
        void* p = reinterpret_cast<void*>(it.addr);
        if (!object_intact(p, it.n, it.tag)) fail(wave, id, "kmalloc pattern changed: handed out twice?", it);
        t_.kfree(p);
        break;
      }
      case Kind::Ctor: {
        void* p = reinterpret_cast<void*>(it.addr);
        if (!object_intact(p, kCtorSize, it.tag)) fail(wave, id, "cache object pattern changed", it);
        stress_ctor(p);  // back to the constructed state before the free
        g_ctor_calls.fetch_sub(1, std::memory_order_relaxed);
        t_.cache_free(p);
        break;
      }
    }
  }

  void drain_mailbox(unsigned wave, unsigned id) {
    std::vector<Item> got;
    {
      std::lock_guard<std::mutex> g(boxes_[id].mu);
      got.swap(boxes_[id].items);
    }
    for (const Item& it : got) release(wave, id, it);
    tally_.remote_frees.fetch_add(got.size(), std::memory_order_relaxed);
    tally_.frees.fetch_add(got.size(), std::memory_order_relaxed);
  }

  // Checks a fresh page block (alignment, zone) and fills its pattern.
  void take_block(unsigned wave, unsigned id, unsigned z, Item& it) {
    const uint64_t bytes = kPageSize << it.order;
    if (it.addr % bytes != 0) fail(wave, id, "block not naturally aligned", it);
    if ((z == 0 && it.addr + bytes > kDmaLimit) || (z == 1 && it.addr + bytes > kDma32Limit))
      fail(wave, id, "block outside the zone asked for", it);
    fill_frames(t_.to_virt(it.addr), uint64_t{1} << it.order, it.tag);
    tally_.pages_in_zone[static_cast<unsigned>(zone_of(it.addr))].fetch_add(1, std::memory_order_relaxed);
  }

  // Checks a fresh object of the constructor cache and fills its pattern.
  void take_constructed(unsigned wave, unsigned id, Item& it) {
    void* p = reinterpret_cast<void*>(it.addr);
    if (!constructed(p)) fail(wave, id, "cache object not in its constructed state", it);
    fill_object(p, kCtorSize, it.tag);
    tally_.ctor_allocs.fetch_add(1, std::memory_order_relaxed);
  }

  // Allocates items of a random kind (several for a bulk call) onto `out`;
  // returns how many (0: the allocator had none). Tags are unique per item.
  size_t allocate(unsigned wave, unsigned id, std::mt19937_64& rng, uint64_t serial, std::vector<Item>& out) {
    Item it{};
    it.tag = (uint64_t{wave} << 60) ^ (uint64_t{id} << 48) ^ (serial * kGolden) ^ 1;
    const uint64_t base_tag = it.tag;
    const unsigned r = static_cast<unsigned>(rng() % 100);
    if (r < 45) {  // kmalloc: log-uniform 1 B..8 KiB, now and then larger (whole blocks)
      const unsigned bits = 1 + static_cast<unsigned>(rng() % 13);
      size_t size = 1 + rng() % (size_t{1} << bits);
      if (rng() % 64 == 0) size = 8 * KiB + 1 + rng() % (56 * KiB);
      void* p = t_.kmalloc(size, GFP_KERNEL | __GFP_NOWARN);
      if (p == nullptr) return 0;
      const uintptr_t a = reinterpret_cast<uintptr_t>(p);
      const size_t want = std::has_single_bit(size) ? std::min<size_t>(size, kPageSize) : 8;
      it = {Kind::Kmalloc, 0, static_cast<uint32_t>(size), a, it.tag};
      if (a % want != 0) fail(wave, id, "kmalloc alignment", it);
      fill_object(p, size, it.tag);
      tally_.kmallocs.fetch_add(1, std::memory_order_relaxed);
      if (size > 8 * KiB) tally_.large_kmallocs.fetch_add(1, std::memory_order_relaxed);
      out.push_back(it);
      return 1;
    }
    if (r < 65) {  // the constructor cache, one in six through the bulk call
      if (rng() % 6 == 0) {
        void* objs[kMaxBulk];
        const size_t want = 2 + rng() % (kMaxBulk - 1);
        const size_t got = t_.cache_alloc_bulk(GFP_KERNEL | __GFP_NOWARN, want, objs);
        if (got != 0 && got != want) fail(wave, id, "kmem_cache_alloc_bulk neither all nor nothing", it);
        if (got == 0) return 0;
        tally_.bulk_cache_calls.fetch_add(1, std::memory_order_relaxed);
        for (size_t i = 0; i < got; ++i) {
          Item o = {Kind::Ctor, 0, kCtorSize, reinterpret_cast<uint64_t>(objs[i]), base_tag + 2 * i};
          take_constructed(wave, id, o);
          out.push_back(o);
        }
        return got;
      }
      void* p = t_.cache_alloc(GFP_KERNEL | __GFP_NOWARN);
      if (p == nullptr) return 0;
      it = {Kind::Ctor, 0, kCtorSize, reinterpret_cast<uint64_t>(p), it.tag};
      take_constructed(wave, id, it);
      out.push_back(it);
      return 1;
    }
    if (r < 95) {  // pages: mostly the orders the per-CPU caches hold, every zone
      const unsigned pick = static_cast<unsigned>(rng() % 16);
      const unsigned order = pick < 8 ? 0 : pick < 14 ? 1 + static_cast<unsigned>(rng() % 3) : 4 + static_cast<unsigned>(rng() % 3);
      const unsigned z = static_cast<unsigned>(rng() % 4);
      const gfp_t flags = (z == 0 ? GFP_DMA : z == 1 ? GFP_DMA32 : GFP_KERNEL) | __GFP_NOWARN;
      if (order < 2 && rng() % 6 == 0) {  // one in six small ones through the bulk call
        uint64_t blocks[kMaxBulk];
        const size_t got = t_.alloc_pages_bulk(order, flags, 2 + rng() % (kMaxBulk - 1), blocks);
        if (got == 0) return 0;
        tally_.bulk_page_calls.fetch_add(1, std::memory_order_relaxed);
        for (size_t i = 0; i < got; ++i) {
          Item b = {Kind::Pages, static_cast<uint8_t>(order), 0, blocks[i], base_tag + 2 * i};
          take_block(wave, id, z, b);
          out.push_back(b);
        }
        return got;
      }
      const uint64_t phys = t_.alloc_pages(order, flags);
      if (phys == 0) return 0;
      it = {Kind::Pages, static_cast<uint8_t>(order), 0, phys, it.tag};
      take_block(wave, id, z, it);
      out.push_back(it);
      return 1;
    }
    // contiguous: 1..24 frames, aligned to 4..64 KiB, not crossing 128 KiB
    // (when it fits), sometimes below 16 MiB
    const uint64_t frames = 1 + rng() % 24;
    const uint64_t align = kPageSize << (rng() % 5);
    const uint64_t boundary = frames * kPageSize <= 128 * KiB && rng() % 2 ? 128 * KiB : 0;
    const uint64_t max_addr = rng() % 4 == 0 ? 16 * MiB : 0;
    const uint64_t phys = t_.alloc_contig(frames, align, boundary, max_addr, __GFP_NOWARN);
    if (phys == 0) return 0;
    it = {Kind::Contig, 0, static_cast<uint32_t>(frames), phys, it.tag};
    const uint64_t end = phys + frames * kPageSize;
    if (phys % align != 0 || (boundary != 0 && phys / boundary != (end - 1) / boundary) ||
        (max_addr != 0 && end > max_addr))
      fail(wave, id, "contig range breaks its alignment, boundary or limit", it);
    fill_frames(t_.to_virt(phys), frames, it.tag);
    tally_.contig.fetch_add(1, std::memory_order_relaxed);
    out.push_back(it);
    return 1;
  }

  // Frees `first` and up to kMaxBulk - 1 more constructor-cache objects taken
  // from the end of `live` with one kmem_cache_free_bulk; returns how many.
  size_t release_ctor_bulk(unsigned wave, unsigned id, const Item& first, std::vector<Item>& live) {
    void* objs[kMaxBulk];
    size_t n = 0;
    auto take = [&](const Item& it) {
      void* p = reinterpret_cast<void*>(it.addr);
      if (!object_intact(p, kCtorSize, it.tag)) fail(wave, id, "cache object pattern changed", it);
      stress_ctor(p);
      g_ctor_calls.fetch_sub(1, std::memory_order_relaxed);
      objs[n++] = p;
    };
    take(first);
    for (size_t i = live.size(); i-- > 0 && n < kMaxBulk;) {
      if (live[i].kind != Kind::Ctor) continue;
      take(live[i]);
      live[i] = live.back();
      live.pop_back();
    }
    t_.cache_free_bulk(n, objs);
    tally_.bulk_cache_frees.fetch_add(1, std::memory_order_relaxed);
    return n;
  }

  static uint64_t frames_of(const Item& it) {
    return it.kind == Kind::Pages ? uint64_t{1} << it.order : it.kind == Kind::Contig ? it.n : 0;
  }

  void worker(unsigned wave, unsigned id, uint64_t ops) {
    std::mt19937_64 rng(cfg_.seed + 1000 * wave + id);
    std::vector<Item> live;
    uint64_t frames = 0, serial = 0, allocs = 0, frees = 0, handed = 0, oom = 0;
    for (uint64_t op = 0; op < ops; ++op) {
      if (op % 16 == 0) drain_mailbox(wave, id);
      const bool full = live.size() >= kMaxLive || frames >= max_frames_;
      if (!full && (live.empty() || rng() % 2 == 0)) {
        const size_t got = allocate(wave, id, rng, serial, live);
        serial += 2 * kMaxBulk;
        if (got == 0) {
          ++oom;
          continue;
        }
        for (size_t i = live.size() - got; i < live.size(); ++i) frames += frames_of(live[i]);
        allocs += got;
        continue;
      }
      const size_t k = rng() % live.size();
      const Item it = live[k];
      live[k] = live.back();
      live.pop_back();
      frames -= frames_of(it);
      // One free decision in seven hands the item to another thread: with the
      // bulk frees (several items per decision) that is about one item in eight.
      if (rng() % 7 == 0) {
        const unsigned to = (id + 1 + static_cast<unsigned>(rng() % (cfg_.threads - 1))) % cfg_.threads;
        std::lock_guard<std::mutex> g(boxes_[to].mu);
        boxes_[to].items.push_back(it);
        ++handed;
      } else if (it.kind == Kind::Ctor && rng() % 4 == 0) {
        frees += release_ctor_bulk(wave, id, it, live);
      } else {
        release(wave, id, it);
        ++frees;
      }
    }
    for (const Item& it : live) release(wave, id, it);
    frees += live.size();
    tally_.allocs.fetch_add(allocs);
    tally_.frees.fetch_add(frees);
    tally_.handed.fetch_add(handed);
    tally_.oom.fetch_add(oom);
    // Keep taking hand-overs until every worker of the wave has stopped
    // handing things over; then one last look.
    done_.fetch_add(1);
    for (;;) {
      const bool last = done_.load() == cfg_.threads;
      drain_mailbox(wave, id);
      if (last) break;
      std::this_thread::yield();
    }
  }

  Target& t_;
  const StressConfig cfg_;
  Failures& failures_;
  Tally& tally_;
  std::vector<Mailbox> boxes_;
  const uint64_t max_frames_;  // pages one worker holds at most
  std::atomic<unsigned> done_{0};
};

template <typename Target>
void run_stress(Target& target, const char* name, const StressConfig& cfg) {
  // Printed first, so that even a crash leaves the way to rerun it.
  std::printf("stress %s: %u threads per wave x %u waves over %u CPU caches, %" PRIu64
              " operations; rerun with %s\n",
              name, cfg.threads, kWaves, cfg.cpu_count, cfg.ops, cfg.rerun().c_str());
  std::fflush(stdout);
  SCOPED_TRACE("rerun with " + cfg.rerun());

  Failures failures;
  Tally tally;
  ReportsAsFailures reports(failures);
  ASSERT_TRUE(target.verify());
  const uint64_t before = target.settled_free_frames();
  ASSERT_TRUE(target.create_cache());

  const auto start = std::chrono::steady_clock::now();
  {
    Workload<Target> w(target, cfg, failures, tally);
    std::atomic<bool> stop{false};
    std::thread controller([&] { w.controller(stop); });
    for (unsigned wave = 0; wave < kWaves; ++wave) w.run_wave(wave, cfg.ops / kWaves / cfg.threads);
    stop.store(true);
    controller.join();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  EXPECT_EQ(target.destroy_cache(), 0u) << "live objects left in the constructor cache";
  const uint64_t after = target.settled_free_frames();
  EXPECT_TRUE(target.verify());
  EXPECT_EQ(after, before) << "free frames (caches drained) differ from before the run";

  const uint64_t frees = tally.frees.load();
  std::printf("stress %s: %.2f s; %" PRIu64 " allocations (%" PRIu64 " kmalloc, %" PRIu64 " of them > 8 KiB, %" PRIu64
              " from the constructor cache, pages %" PRIu64 "/%" PRIu64 "/%" PRIu64 " in DMA/DMA32/Normal, %" PRIu64
              " contiguous), %" PRIu64 " refused; %" PRIu64 " frees, %" PRIu64 " (%.1f%%) by another thread; "
              "%" PRIu64 " verify() and %" PRIu64 " reclaims alongside; bulk calls: %" PRIu64 " alloc_pages_bulk, %" PRIu64
              " kmem_cache_alloc_bulk, %" PRIu64 " kmem_cache_free_bulk\n",
              name, secs, tally.allocs.load(), tally.kmallocs.load(), tally.large_kmallocs.load(),
              tally.ctor_allocs.load(), tally.pages_in_zone[0].load(), tally.pages_in_zone[1].load(),
              tally.pages_in_zone[2].load(), tally.contig.load(), tally.oom.load(), frees,
              tally.remote_frees.load(), frees ? 100.0 * double(tally.remote_frees.load()) / double(frees) : 0.0,
              tally.verifies.load(), tally.reclaims.load(), tally.bulk_page_calls.load(),
              tally.bulk_cache_calls.load(), tally.bulk_cache_frees.load());

  EXPECT_EQ(failures.count(), 0u) << failures.text();
  EXPECT_EQ(tally.allocs.load(), frees) << "every allocation freed exactly once";
  EXPECT_EQ(tally.remote_frees.load(), tally.handed.load());
  // The run did what it says (a workload that silently stopped allocating
  // would pass every check above).
  EXPECT_GE(tally.allocs.load() + frees, cfg.ops * 9 / 10);
  EXPECT_GT(tally.remote_frees.load(), frees / 20);
  for (unsigned z = 0; z < kZoneCount; ++z) EXPECT_GT(tally.pages_in_zone[z].load(), 0u) << zone_name(Zone(z));
  EXPECT_GT(tally.contig.load(), 0u);
  EXPECT_GT(tally.ctor_allocs.load(), 0u);
  EXPECT_GT(tally.bulk_page_calls.load(), 0u);
  EXPECT_GT(tally.bulk_cache_calls.load(), 0u);
  EXPECT_GT(tally.bulk_cache_frees.load(), 0u);
  EXPECT_GT(g_ctor_calls.load(), 0u);
  EXPECT_GE(tally.verifies.load(), 2u);
  EXPECT_GE(tally.reclaims.load(), 1u);
}

TEST(Stress, PublicApiManyThreads) {
  CApiTarget& t = CApiTarget::instance();
  ASSERT_TRUE(t.ok()) << "pf_init on the hosted window failed";
  run_stress(t, "C API", StressConfig::from_env());
}

TEST(Stress, ClassesManyThreads) {
  ClassTarget t(kCpuCount);
  ASSERT_TRUE(t.ok());
  run_stress(t, "C++ classes", StressConfig::from_env());
}

// As many CPU caches as the hosted build has CPU slots (kMaxCpus), and more
// threads than that at once: the last threads get no slot at all and are
// served through the shared path; the second wave takes slots given back.
TEST(Stress, ClassesMoreThreadsThanCpuSlots) {
  StressConfig cfg = StressConfig::from_env();
  cfg.cpu_count = kMaxCpus;
  cfg.threads = std::max(cfg.threads, kMaxCpus + 6);
  cfg.ops /= 4;
  ClassTarget t(cfg.cpu_count);
  ASSERT_TRUE(t.ok());
  run_stress(t, "C++ classes, all slots", cfg);
}

}  // namespace
}  // namespace pf
