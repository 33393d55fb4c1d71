// ops_fuzz.cpp — libFuzzer target: random sequences of page and slab
// operations against a reference model, with both layers' verify() after
// every step.
//
// The machine (built once, reused by every input; see "Left as found"), 15 MiB:
//   [1 MiB, 8 MiB) usable with [2 MiB, +64 KiB) reserved inside it  (DMA)
//   [8 MiB, 16 MiB) a hole
//   [16 MiB, 20 MiB) usable                                         (DMA32)
//   [4 GiB, 4 GiB + 4 MiB) usable                                   (Normal)
// with 4 CPUs, one PageAllocator and three SlabAllocators over it: plain,
// SlabConfig::debug, and init_on_alloc + init_on_free. An input drives one of
// the three; every zone has one order-10 block, so large requests run out
// quickly and the out-of-memory paths are walked often. Small on purpose:
// verify() walks every descriptor, after every step.
//
// Input format (read front to back; missing bytes read as 0, so every input
// is valid and seeds can be written by hand — tests/fuzz/corpus/ops/):
//   u8 config: bits 0-1 the slab instance (0 plain, 1 debug, 2 init, 3 plain)
//   then operations until the input ends (at most kMaxOps), each a u8 op (op % 26) and its
//   arguments (see run_op; each argument is one u8 or one u16 LE):
//     0,1 alloc_pages   2 free any live   3 alloc_contig   4 free a contig/page
//     5 cache_create    6,7 cache_alloc   8 cache_free     9 cache_destroy
//     10,11 kmalloc/kmalloc_aligned/kzalloc/kcalloc       12 krealloc
//     13 kfree          14 free any live  15 drain page caches
//     16 shrink         17 switch CPU     18 fault injection (pages or objects) on/off
//     19 misuse (a refused call: exactly one named report, nothing changed)
//     20 cache_alloc_bulk / cache_free_bulk   21 reclaim (pf_reclaim)   22 alloc_pages_bulk
//     23 krealloc_aligned   24 kfree_sized (sizes up to ksize; above: misuse)
//     25 fork_prepare + fork_release (parent or child)
//
// The model (what is checked):
//   * live allocations never overlap: one interval set over physical
//     addresses holds pages, contiguous ranges, kmalloc objects and cache
//     objects ([p, p + ksize) for objects);
//   * alignment as promised: a block of order k on a 2^k-frame boundary;
//     contig on `align`, never across a `boundary` multiple, ending at or
//     below max_addr; kmalloc: power-of-two sizes to themselves (up to 4096),
//     all to 8, large blocks to their size, kmalloc_aligned to `align`; cache
//     objects to max(align, 8); zone flags keep the memory below 16 MiB /
//     4 GiB (__GFP_THISZONE: inside the zone); every frame is managed memory;
//   * each allocation is filled with a pattern of its own on allocation and
//     checked before it is freed (and across krealloc); constructed caches
//     hand out constructed objects and get them back so;
//   * __GFP_ZERO, kzalloc and init_on_alloc memory is zero;
//   * no spurious out-of-memory (fault injection off): a null from
//     alloc_pages means no zone the flags allow has a free block of that
//     order or above; from alloc_contig, a brute-force search of the
//     descriptors (cached frames counted free: it drains before giving up)
//     finds no window meeting the request; from an on-slab cache, no free
//     block of the slab's order is left anywhere;
//   * the counts agree, after every step:
//       managed - free == live page frames (alloc_pages + contig + large
//                         kmalloc, from the model)
//                       + slab frames + per-CPU object array blocks,
//     and a walk of the frame descriptors agrees with each term
//     (kmalloc-large heads == the model's large blocks, other Allocated
//     heads == the model's pages and contig ranges); at drains, shrinks,
//     destroys, the end and every 16th step, the slab term is also what
//     slabinfo reports (num_slabs * pagesperslab over every cache);
//   * both verify()s are clean after every step and no error is reported,
//     except by a misuse op (free_pages with another order, a tail frame,
//     page and contig double frees, the hole, a reserved frame, contig and
//     page frees mixed, interior pointers, kfree of a non-slab page, the
//     wrong cache, an immediate object double free, a delayed one in a
//     debug cache, bad cache_create and alloc_contig arguments, a
//     kfree_sized above ksize), which
//     expects exactly its one named error and the counters, buddyinfo and
//     the cache's stats unchanged; a destroy with live objects must report
//     them and retire the cache.
//
// Left as found: the input ends by freeing everything, destroying its caches,
// shrinking and draining; then the free count and buddyinfo must equal those
// taken after the machine was built. So each input starts from the same
// counts, but free-list order can differ from a fresh process: reproducing a
// crash with one input is likely, not certain (run the crash file first
// thing, as `build/fuzz/ops_fuzz CRASH` does).
//
// Cost: verify() of both layers after every step is about two thirds of
// the time (the core is built with libFuzzer's comparison tracing), so an
// op costs ~0.1-0.2 ms and a 60-op input some ms: hundreds of inputs/s, not
// thousands, on these machines; ops beyond kMaxOps are ignored.
//
// Single-threaded; the CPU slot is switched with hosted::set_this_thread_cpu.
// OPS_FUZZ_TRACE=1 build/fuzz/ops_fuzz INPUT prints what an input did.
#include <algorithm>
#include <array>
#include <cstdarg>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "hosted/hosted.hpp"
#include "kernel/mm/memmap.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "kernel/mm/text.hpp"
#include "tests/fuzz/byte_reader.hpp"

namespace {

using namespace pf;

constexpr unsigned kCpus = 4;
constexpr unsigned kInstances = 3;
constexpr unsigned kUserCaches = 4;
constexpr size_t kMaxLive = 400;
// Longer inputs add little but time: each op costs two full verify() walks.
constexpr uint64_t kMaxOps = 256;
constexpr uint64_t kHoleBase = 8 * MiB;
constexpr uint64_t kHoleEnd = 16 * MiB;
constexpr const char* kInstanceNames[kInstances] = {"plain", "debug", "init-on-alloc/free"};

// ---- reports and log -------------------------------------------------------------------

struct Reports {
  unsigned count = 0;
  ErrorCode last = ErrorCode::Count;
  char message[320] = {};
};
Reports g_reports;

void on_report(const ErrorReport& r, void*) {
  ++g_reports.count;
  g_reports.last = r.code;
  std::snprintf(g_reports.message, sizeof g_reports.message, "%s", r.message ? r.message : "");
}

// The last few KiB of log text and of the ops of the current input, shown
// on failure. Fixed rings, not strings: libFuzzer counts mallocs against
// frees per input and reruns any input that keeps memory (its leak check).
template <size_t N>
struct TextRing {
  char text[N];
  size_t next = 0;      // where the next byte goes
  bool wrapped = false;
  void clear() { next = 0, wrapped = false; }
  void put(const char* s, size_t n) {
    for (size_t i = 0; i < n; ++i) {
      text[next++] = s[i];
      if (next == N) next = 0, wrapped = true;
    }
  }
  void print(FILE* f) const {
    if (wrapped) std::fwrite(text + next, 1, N - next, f);
    std::fwrite(text, 1, next, f);
  }
};
TextRing<8192> g_log;
TextRing<8192> g_trace;
uint64_t g_ops = 0;

void on_log(const char* text, size_t n, void*) { g_log.put(text, n); }

void trace(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void trace(const char* fmt, ...) {
  char buf[192];
  int n = std::snprintf(buf, sizeof buf, "%5llu ", static_cast<unsigned long long>(g_ops++));
  va_list ap;
  va_start(ap, fmt);
  n += std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n) - 1, fmt, ap);
  va_end(ap);
  if (n > static_cast<int>(sizeof buf) - 2) n = static_cast<int>(sizeof buf) - 2;
  buf[n++] = '\n';
  g_trace.put(buf, static_cast<size_t>(n));
}

[[noreturn]] void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void fail(const char* fmt, ...) {
  std::fprintf(stderr, "ops_fuzz: FAILED: ");
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "\n");
  if (g_reports.count != 0) std::fprintf(stderr, "last report: %s\n", g_reports.message);
  std::fprintf(stderr, "ops (%llu; the last ones):\n", static_cast<unsigned long long>(g_ops));
  g_trace.print(stderr);
  std::fprintf(stderr, "log tail:\n");
  g_log.print(stderr);
  std::fprintf(stderr, "\n");
  std::abort();
}

// ---- the machine -------------------------------------------------------------------------

struct RangeView {
  uint64_t base, end;  // frames
  Zone zone;
  const FrameDescriptor* desc;
};

struct World {
  MemoryMap map;
  hosted::HostedMemory memory;
  PageAllocator pages;
  SlabAllocator slab[kInstances];
  std::vector<RangeView> ranges;
  uint64_t managed = 0;
  uint64_t initial_free = 0;
  std::string initial_buddyinfo;
  uint64_t slab_frames[kInstances] = {};  // slabinfo frames of the idle instances
};

std::string buddyinfo(const PageAllocator& pages) {
  char buf[2048];
  TextBuffer t(buf, sizeof buf);
  pages.format_buddyinfo(t);
  return buf;
}

// Frames a cache's slabs hold, from its stats: fallback slabs (grown when
// no block of the preferred order was free) have the minimum layout's pages.
uint64_t cache_frames(const SlabAllocator& slab, const KmemCache* c) {
  const CacheStats st = slab.stats(c);
  return (st.total_slabs - st.fallback_slabs) * st.pages_per_slab + st.fallback_slabs * st.min_pages_per_slab;
}

// Frames the instance's slabs hold, as its slabinfo says: num_slabs *
// pagesperslab for a cache whose slabs all have the preferred layout
// (num_objs == num_slabs * objperslab). slabinfo prints only that layout (as
// Linux's), so a row with fallback slabs overstates; for those the cache's
// stats count (the caches it may be: `known` and the kmalloc caches; another
// one with fallback slabs fails). Multiplying out every row was a harness
// error that a bulk-allocation run under memory pressure showed.
uint64_t slabinfo_frames(const SlabAllocator& slab, const KmemCache* const* known = nullptr, size_t nknown = 0) {
  static char buf[32768];
  TextBuffer t(buf, sizeof buf);
  slab.format_slabinfo(t);
  if (t.truncated()) fail("slabinfo truncated");
  uint64_t frames = 0;
  const char* line = std::strchr(buf, '\n');
  line = line ? std::strchr(line + 1, '\n') : nullptr;  // skip the two header lines
  while (line != nullptr && line[1] != '\0') {
    ++line;
    char name[40] = {};
    unsigned long long objs = 0, per_slab = 0, pages_per_slab = 0, slabs = 0;
    if (std::sscanf(line, "%39s %*u %llu %*u %llu %llu : tunables %*u %*u %*u : slabdata %*u %llu", name, &objs,
                    &per_slab, &pages_per_slab, &slabs) != 5)
      fail("cannot parse slabinfo row: %.80s", line);
    if (objs == per_slab * slabs) {
      frames += pages_per_slab * slabs;
    } else {
      const KmemCache* c = nullptr;
      for (size_t i = 0; i < kKmallocClassCount && c == nullptr; ++i)
        if (std::strcmp(slab.kmalloc_cache(i)->name(), name) == 0) c = slab.kmalloc_cache(i);
      for (size_t i = 0; i < nknown && c == nullptr; ++i)
        if (known[i] != nullptr && std::strcmp(known[i]->name(), name) == 0) c = known[i];
      if (c == nullptr) fail("slabinfo row %s has fallback slabs and is no cache the harness knows", name);
      frames += cache_frames(slab, c);
    }
    line = std::strchr(line, '\n');
  }
  return frames;
}

void check_clean(World& w, unsigned inst, const char* when);

World* build_world() {
  set_error_handler(&on_report, nullptr);
  hosted::set_log_sink(&on_log, nullptr);
  hosted::set_this_thread_cpu(0);
  auto* w = new World();
  w->map.add({.base = 1 * MiB, .length = 7 * MiB, .type = RegionType::Usable});
  w->map.add({.base = 2 * MiB, .length = 64 * KiB, .type = RegionType::Reserved});
  w->map.add({.base = 16 * MiB, .length = 4 * MiB, .type = RegionType::Usable});
  w->map.add({.base = 4 * GiB, .length = 4 * MiB, .type = RegionType::Usable});
  if (!w->map.normalise()) fail("the machine's map did not normalise");
  if (!w->memory.reserve_for(w->map)) fail("no hosted window");
  if (w->pages.init(w->map, {.direct_map_offset = w->memory.direct_map_offset(), .cpu_count = kCpus}) != PF_OK)
    fail("PageAllocator::init");
  const SlabConfig configs[kInstances] = {
      {.cpu_count = kCpus},
      {.cpu_count = kCpus, .debug = true},
      {.cpu_count = kCpus, .init_on_alloc = true, .init_on_free = true},
  };
  for (unsigned i = 0; i < kInstances; ++i)
    if (w->slab[i].init(w->pages, configs[i]) != PF_OK) fail("SlabAllocator::init (%s)", kInstanceNames[i]);
  for (size_t i = 0; i < w->pages.range_count(); ++i) {
    const auto info = w->pages.range_info(i);
    const uint64_t base = info.base.value >> kPageShift, end = info.end.value >> kPageShift;
    w->ranges.push_back({base, end, info.zone, w->pages.descriptor(Pfn{base})});
    if (w->ranges.back().desc == nullptr) fail("range without descriptors");
  }
  for (unsigned i = 0; i < kInstances; ++i) {
    w->slab[i].shrink_all();
    w->slab_frames[i] = slabinfo_frames(w->slab[i]);
  }
  w->pages.drain_cpu_caches();
  const PageCounters c = w->pages.counters();
  w->managed = c.managed_frames;
  w->initial_free = c.free_frames;
  w->initial_buddyinfo = buddyinfo(w->pages);
  for (unsigned i = 0; i < kInstances; ++i) check_clean(*w, i, "after building the machine");
  if (g_reports.count != 0) fail("a report while building the machine");
  return w;
}

// ---- patterns ----------------------------------------------------------------------------------

uint64_t pattern_word(uint64_t seed, uint64_t k) {
  return (seed * 0x9e3779b97f4a7c15ull) ^ (k * 0xd1b54a32d192ed03ull) ^ 0x5bd1e995u;
}
void fill(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const uint64_t w = pattern_word(seed, i / 8);
    std::memcpy(b + i, &w, 8);
  }
  if (i < n) {
    const uint64_t w = pattern_word(seed, i / 8);
    std::memcpy(b + i, &w, n - i);
  }
}
// Offset of the first byte that differs, or n.
size_t first_mismatch(const void* p, size_t n, uint64_t seed) {
  const auto* b = static_cast<const unsigned char*>(p);
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t got;
    std::memcpy(&got, b + i, 8);
    if (got != pattern_word(seed, i / 8)) break;
  }
  for (; i < n; ++i) {
    const uint64_t w = pattern_word(seed, i / 8);
    if (b[i] != static_cast<unsigned char>(w >> (8 * (i % 8)))) return i;
  }
  return n;
}
bool all_zero(const void* p, size_t n) {
  static const unsigned char zeros[4096] = {};
  const auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; i += sizeof zeros) {
    const size_t k = std::min(sizeof zeros, n - i);
    if (std::memcmp(b + i, zeros, k) != 0) return false;
  }
  return true;
}

// Constructed caches: the constructor stamps the object's first 8 bytes;
// the pattern covers the rest, and the stamp is put back before the free.
constexpr uint64_t kConstructed = 0xc0257c7ed0b1ec75ull;
uint64_t g_ctor_calls = 0;
void construct(void* p) {
  ++g_ctor_calls;
  std::memcpy(p, &kConstructed, 8);
}

// ---- the model -----------------------------------------------------------------------------------

enum class Kind : uint8_t { Pages, Contig, Kmalloc, Object };
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::Pages: return "pages";
    case Kind::Contig: return "contig";
    case Kind::Kmalloc: return "kmalloc";
    case Kind::Object: return "object";
  }
  return "?";
}

struct Live {
  Kind kind;
  bool large = false;     // kmalloc served by a whole buddy block
  bool ctor = false;      // object of a constructed cache
  uint8_t order = 0;      // Pages, large kmalloc: the block's order
  uint8_t cache = 0;      // Object: user cache slot
  uint64_t frames = 0;    // Contig: frame count; Pages/large: 2^order
  uint64_t phys = 0;
  void* ptr = nullptr;
  uint64_t size = 0;      // bytes the caller asked for (filled)
  uint64_t extent = 0;    // bytes it owns (for overlap)
  uint64_t seed = 0;
};

struct UserCache {
  KmemCache* cache = nullptr;
  size_t size = 0, align = 0;
  unsigned flags = 0;
  bool ctor = false;
  bool retired = false;
  uint64_t live = 0;
  char name[16] = {};
};

using Decoder = pf::fuzz::ByteReader;

Zone zone_of_phys(uint64_t phys) {
  return phys < kDmaLimit ? Zone::Dma : phys < kDma32Limit ? Zone::Dma32 : Zone::Normal;
}

// Zones a request with these flags may be served from (limit zone first).
std::vector<Zone> eligible_zones(gfp_t flags) {
  const unsigned limit = (flags & __GFP_DMA) ? 0u : (flags & __GFP_DMA32) ? 1u : 2u;
  std::vector<Zone> zs;
  for (int z = static_cast<int>(limit); z >= 0; --z) {
    zs.push_back(static_cast<Zone>(z));
    if (flags & __GFP_THISZONE) break;
  }
  return zs;
}

class Session {
 public:
  Session(World& w, unsigned inst) : w_(w), pages_(w.pages), slab_(w.slab[inst]), inst_(inst) {}

  void run(Decoder& in) {
    for (uint64_t n = 0; n < kMaxOps && !in.done(); ++n) {
      run_op(in);
      after_step();
    }
    finish();
  }

 private:
  // ---- bookkeeping --------------------------------------------------------------------------

  void add_interval(const Live& a) {
    const uint64_t b = a.phys, e = a.phys + a.extent;
    auto next = intervals_.lower_bound(b);
    if (next != intervals_.end() && next->first < e)
      fail("%s at 0x%llx +0x%llx overlaps a live allocation at 0x%llx", kind_name(a.kind),
           (unsigned long long)b, (unsigned long long)a.extent, (unsigned long long)next->first);
    if (next != intervals_.begin()) {
      auto prev = std::prev(next);
      if (prev->second > b)
        fail("%s at 0x%llx +0x%llx overlaps a live allocation [0x%llx, 0x%llx)", kind_name(a.kind),
             (unsigned long long)b, (unsigned long long)a.extent, (unsigned long long)prev->first,
             (unsigned long long)prev->second);
    }
    intervals_.emplace(b, e);
  }
  void remove_interval(const Live& a) {
    auto it = intervals_.find(a.phys);
    if (it == intervals_.end()) fail("model: interval 0x%llx missing", (unsigned long long)a.phys);
    intervals_.erase(it);
  }

  void add_live(Live a) {
    a.seed = ++seed_ * 0x2545f4914f6cdd1dull + inst_;
    add_interval(a);
    if (a.kind == Kind::Pages || a.kind == Kind::Contig || (a.kind == Kind::Kmalloc && a.large)) {
      (a.large ? large_frames_ : page_frames_) += a.frames;
    }
    if (a.kind == Kind::Object) caches_[a.cache].live++;
    stamp(a);
    live_.push_back(a);
  }

  // Fills an allocation with its pattern (constructed objects: after the stamp).
  void stamp(const Live& a) {
    const size_t skip = a.ctor ? 8 : 0;
    fill(static_cast<char*>(a.ptr) + skip, a.size - skip, a.seed);
  }
  void check_stamp(const Live& a, const char* when) {
    const size_t skip = a.ctor ? 8 : 0;
    const size_t at = first_mismatch(static_cast<char*>(a.ptr) + skip, a.size - skip, a.seed);
    if (at != a.size - skip)
      fail("%s %s at 0x%llx (size %llu): pattern changed at offset %zu", when, kind_name(a.kind),
           (unsigned long long)a.phys, (unsigned long long)a.size, at + skip);
    if (a.ctor && std::memcmp(a.ptr, &kConstructed, 8) != 0)
      fail("%s object at 0x%llx: constructed stamp changed", when, (unsigned long long)a.phys);
  }

  // Removes live_[i] from the model after its pattern is checked (and, for
  // constructed objects, puts the constructed state back).
  Live take_live(size_t i, const char* when) {
    Live a = live_[i];
    check_stamp(a, when);
    if (a.ctor) std::memcpy(a.ptr, &kConstructed, 8);
    remove_interval(a);
    if (a.kind == Kind::Pages || a.kind == Kind::Contig || (a.kind == Kind::Kmalloc && a.large))
      (a.large ? large_frames_ : page_frames_) -= a.frames;
    if (a.kind == Kind::Object) caches_[a.cache].live--;
    live_[i] = live_.back();
    live_.pop_back();
    return a;
  }

  // Index of the k-th live allocation (mod) that `want` accepts, or -1.
  template <typename Pred>
  long pick(uint64_t k, Pred want) const {
    size_t n = 0;
    for (const Live& a : live_) n += want(a) ? 1 : 0;
    if (n == 0) return -1;
    k %= n;
    for (size_t i = 0; i < live_.size(); ++i)
      if (want(live_[i]) && k-- == 0) return static_cast<long>(i);
    return -1;
  }

  // Every frame of [phys, phys + bytes) is in one managed range.
  void check_managed(uint64_t phys, uint64_t bytes, const char* what) {
    const uint64_t first = phys >> kPageShift, end = (phys + bytes + kPageSize - 1) >> kPageShift;
    for (const RangeView& r : w_.ranges)
      if (first >= r.base && end <= r.end) return;
    fail("%s [0x%llx, +0x%llx) is not inside one managed range", what, (unsigned long long)phys,
         (unsigned long long)bytes);
  }

  void check_zone(uint64_t phys, uint64_t bytes, gfp_t flags, const char* what) {
    const uint64_t end = phys + bytes;
    if ((flags & __GFP_DMA) && end > kDmaLimit)
      fail("%s with __GFP_DMA at 0x%llx ends above 16 MiB", what, (unsigned long long)phys);
    if (!(flags & __GFP_DMA) && (flags & __GFP_DMA32) && end > kDma32Limit)
      fail("%s with __GFP_DMA32 at 0x%llx ends above 4 GiB", what, (unsigned long long)phys);
    if (flags & __GFP_THISZONE) {
      const Zone want = eligible_zones(flags)[0];
      if (zone_of_phys(phys) != want || zone_of_phys(end - 1) != want)
        fail("%s with __GFP_THISZONE at 0x%llx is outside zone %s", what, (unsigned long long)phys,
             zone_name(want));
    }
  }

  bool injecting() const { return injecting_; }
  // The op made no call into the allocator: the checks after it can be skipped.
  void nothing_to_do() { idle_ = true; }

  // Null from alloc_pages(order, flags) with no injection: the buddy must
  // have had no block of that order or above in any zone the flags allow.
  void check_page_oom(unsigned order, gfp_t flags, const char* what) {
    if (injecting()) return;
    for (Zone z : eligible_zones(flags))
      for (unsigned o = order; o <= kMaxOrder; ++o)
        if (pages_.free_blocks(z, Order{o}) != 0)
          fail("%s: null (order %u, flags 0x%x) while zone %s has a free order-%u block", what, order,
               flags, zone_name(z), o);
  }

  // Null from a slab allocation with no injection: no zone could supply a slab.
  void check_slab_oom(const KmemCache* c, const char* what) {
    if (injecting() || c == nullptr || c->off_slab()) return;
    if (pages_.largest_free_order() >= static_cast<int>(c->slab_order()))
      fail("%s: null from cache %s (slab order %u) while an order-%d block is free", what, c->name(),
           c->slab_order(), pages_.largest_free_order());
  }

  // Null from alloc_contig with no injection: a brute-force search over the
  // frame descriptors must find no free window meeting the request.
  void check_contig_oom(uint64_t frames, const ContigRequest& rq) {
    if (injecting()) return;
    const uint64_t align = rq.align >> kPageShift, boundary = rq.boundary >> kPageShift;
    const uint64_t limit = rq.max_addr == 0 ? ~uint64_t{0} : rq.max_addr >> kPageShift;
    if (boundary != 0 && frames > boundary) return;  // impossible by construction
    const auto zones = eligible_zones(rq.flags);
    for (const RangeView& r : w_.ranges) {
      if (std::find(zones.begin(), zones.end(), r.zone) == zones.end()) continue;
      std::vector<bool> free(r.end - r.base, false);
      for (uint64_t p = r.base; p < r.end;) {
        const FrameDescriptor& d = r.desc[p - r.base];
        const FrameState st = frame_state(d);
        const uint64_t n = (st == FrameState::Tail || st == FrameState::Reserved) ? 1 : uint64_t{1} << d.order;
        if (st == FrameState::Free || st == FrameState::Cached)
          for (uint64_t q = p; q < p + n && q < r.end; ++q) free[q - r.base] = true;
        p += n;
      }
      for (uint64_t s = (r.base + align - 1) / align * align; s + frames <= r.end && s + frames <= limit;
           s += align) {
        if (boundary != 0 && (s / boundary) != ((s + frames - 1) / boundary)) continue;
        bool ok = true;
        for (uint64_t q = s; q < s + frames && ok; ++q) ok = free[q - r.base];
        if (ok)
          fail("alloc_contig(%llu, align 0x%llx, boundary 0x%llx, max 0x%llx, flags 0x%x): null, but "
               "frames [0x%llx, +%llu) are free",
               (unsigned long long)frames, (unsigned long long)rq.align, (unsigned long long)rq.boundary,
               (unsigned long long)rq.max_addr, rq.flags, (unsigned long long)s, (unsigned long long)frames);
      }
    }
  }

  void expect_no_report(const char* what) {
    if (g_reports.count != 0) fail("unexpected report after %s: %s", what, g_reports.message);
  }

  // ---- operations -------------------------------------------------------------------------------

  static gfp_t decode_flags(uint64_t b) {
    gfp_t f = __GFP_NOWARN * ((b >> 4) & 1);
    switch (b & 7) {
      case 1: f |= __GFP_DMA; break;
      case 2: f |= __GFP_DMA32; break;
      case 3: f |= __GFP_DMA | __GFP_THISZONE; break;
      case 4: f |= __GFP_DMA32 | __GFP_THISZONE; break;
      case 5: f |= __GFP_THISZONE; break;
      default: break;
    }
    if (b & 8) f |= __GFP_ZERO;
    return f;
  }

  void op_alloc_pages(Decoder& in) {
    const uint64_t ob = in.u8();
    // Mostly small orders; every order reachable.
    const unsigned order = static_cast<unsigned>((ob & 0x80) ? (ob & 0x7f) % kOrderCount : ob % 4);
    const gfp_t flags = decode_flags(in.u8());
    trace("alloc_pages(order %u, flags 0x%x)", order, flags);
    if (live_.size() >= kMaxLive) return nothing_to_do();
    const PhysAddr p = pages_.alloc_pages(Order{order}, flags);
    expect_no_report("alloc_pages");
    if (p.is_null()) return check_page_oom(order, flags, "alloc_pages");
    accept_pages(p, order, flags, "alloc_pages");
  }

  // What a block from alloc_pages(order, flags) must satisfy; records it.
  void accept_pages(PhysAddr p, unsigned order, gfp_t flags, const char* what) {
    const uint64_t bytes = Order{order}.bytes();
    if (!block_aligned(to_pfn(p), Order{order}) || !p.page_aligned())
      fail("%s(order %u) gave 0x%llx: not naturally aligned", what, order, (unsigned long long)p.value);
    check_managed(p.value, bytes, "alloc_pages block");
    check_zone(p.value, bytes, flags, what);
    void* v = pages_.to_virt<void>(p);
    if ((flags & __GFP_ZERO) && !all_zero(v, bytes))
      fail("%s(order %u, __GFP_ZERO) at 0x%llx is not zero", what, order, (unsigned long long)p.value);
    add_live({.kind = Kind::Pages, .order = static_cast<uint8_t>(order), .frames = uint64_t{1} << order,
              .phys = p.value, .ptr = v, .size = bytes, .extent = bytes});
  }

  // alloc_pages_bulk: count blocks of one order, fewer only when memory runs
  // out (no block of that order left in any zone the flags allow), each as
  // alloc_pages promises; they are the caller's whatever the count.
  void op_pages_bulk(Decoder& in) {
    const uint64_t ob = in.u8();
    const unsigned order = static_cast<unsigned>((ob & 0x80) ? (ob & 0x7f) % kOrderCount : ob % 4);
    const gfp_t flags = decode_flags(in.u8());
    const size_t count = 1 + in.u8() % 32;
    trace("alloc_pages_bulk(order %u, %zu, flags 0x%x)", order, count, flags);
    if (live_.size() + count > kMaxLive) return nothing_to_do();
    PhysAddr out[32];
    const size_t got = pages_.alloc_pages_bulk(Order{order}, flags, count, out);
    expect_no_report("alloc_pages_bulk");
    if (got > count) fail("alloc_pages_bulk(%zu) gave %zu", count, got);
    for (size_t i = 0; i < got; ++i) accept_pages(out[i], order, flags, "alloc_pages_bulk");
    if (got < count) check_page_oom(order, flags, "alloc_pages_bulk");
  }

  void op_alloc_contig(Decoder& in) {
    const uint64_t fb = in.u8(), ab = in.u8(), bb = in.u8(), mb = in.u8();
    const gfp_t flags = decode_flags(in.u8());
    const uint64_t frames = (fb & 0x80) ? 1 + (fb & 0x7f) * 4 : 1 + fb % 24;
    ContigRequest rq;
    rq.align = kPageSize << (ab % 8);
    rq.boundary = (bb & 0x80) ? kPageSize << ((bb & 0x7f) % 12) : 0;
    switch (mb % 4) {
      case 1: rq.max_addr = 16 * MiB; break;
      case 2: rq.max_addr = (mb >> 2) * 512 * KiB + 1 * MiB; break;  // 1..32.5 MiB
      default: rq.max_addr = 0; break;
    }
    rq.flags = flags;
    trace("alloc_contig(%llu, align 0x%llx, boundary 0x%llx, max 0x%llx, flags 0x%x)",
          (unsigned long long)frames, (unsigned long long)rq.align, (unsigned long long)rq.boundary,
          (unsigned long long)rq.max_addr, flags);
    if (live_.size() >= kMaxLive) return nothing_to_do();
    const PhysAddr p = pages_.alloc_contig(frames, rq);
    expect_no_report("alloc_contig");
    if (p.is_null()) return check_contig_oom(frames, rq);
    const uint64_t bytes = frames * kPageSize, start = p.value, last = start + bytes - 1;
    if (start % rq.align != 0)
      fail("alloc_contig gave 0x%llx, not aligned to 0x%llx", (unsigned long long)start,
           (unsigned long long)rq.align);
    if (rq.boundary != 0 && (start / rq.boundary) != (last / rq.boundary))
      fail("alloc_contig gave [0x%llx, 0x%llx], crossing a multiple of 0x%llx", (unsigned long long)start,
           (unsigned long long)last, (unsigned long long)rq.boundary);
    if (rq.max_addr != 0 && start + bytes > rq.max_addr)
      fail("alloc_contig gave [0x%llx, +0x%llx), ending above 0x%llx", (unsigned long long)start,
           (unsigned long long)bytes, (unsigned long long)rq.max_addr);
    check_managed(start, bytes, "alloc_contig range");
    check_zone(start, bytes, flags, "alloc_contig");
    void* v = pages_.to_virt<void>(p);
    if ((flags & __GFP_ZERO) && !all_zero(v, bytes))
      fail("alloc_contig(__GFP_ZERO) at 0x%llx is not zero", (unsigned long long)start);
    add_live({.kind = Kind::Contig, .frames = frames, .phys = start, .ptr = v, .size = bytes, .extent = bytes});
  }

  // Frees live_[i] the way it was allocated.
  void free_live(size_t i, const char* why) {
    const Live a = take_live(i, why);
    switch (a.kind) {
      case Kind::Pages: pages_.free_pages(PhysAddr{a.phys}, Order{a.order}); break;
      case Kind::Contig: pages_.free_contig(PhysAddr{a.phys}, a.frames); break;
      case Kind::Kmalloc: slab_.kfree(a.ptr); break;
      case Kind::Object: slab_.cache_free(caches_[a.cache].cache, a.ptr); break;
    }
    expect_no_report("a free");
  }

  void op_free_any(Decoder& in) {
    const uint64_t k = in.u16();
    const long i = pick(k, [](const Live&) { return true; });
    trace("free live #%llu%s", (unsigned long long)k, i < 0 ? " (none)" : "");
    if (i < 0) return nothing_to_do();
    trace("  = %s at 0x%llx size %llu", kind_name(live_[i].kind), (unsigned long long)live_[i].phys,
          (unsigned long long)live_[i].size);
    free_live(static_cast<size_t>(i), "free");
  }

  void op_free_pages_or_contig(Decoder& in) {
    const uint64_t k = in.u16();
    const long i = pick(k, [](const Live& a) { return a.kind == Kind::Pages || a.kind == Kind::Contig; });
    trace("free page/contig #%llu%s", (unsigned long long)k, i < 0 ? " (none)" : "");
    if (i < 0) return nothing_to_do();
    free_live(static_cast<size_t>(i), "free");
  }

  void op_cache_create(Decoder& in) {
    const uint64_t slot = in.u8() % kUserCaches, sb = in.u16(), ab = in.u8(), fb = in.u8();
    UserCache& u = caches_[slot];
    size_t size;
    switch (sb % 4) {
      case 0: size = 1 + (sb >> 2) % 64; break;
      case 1: size = 1 + (sb >> 2) % 1024; break;
      case 2: size = 1 + (sb >> 2) % 8192; break;
      default: size = 1 + ((sb >> 2) * 4) % kMaxCacheObjectSize; break;
    }
    const size_t align = (ab & 0x80) ? size_t{1} << ((ab & 0x7f) % 13) : 0;
    unsigned flags = 0;
    if (fb & 1) flags |= SLAB_HWCACHE_ALIGN;
    if (fb & 2) flags |= SLAB_NO_COLOUR;
    if ((fb & 0x1c) == 0x1c) flags |= SLAB_DEBUG;
    if (fb & 0x40) flags |= SLAB_FREELIST_RANDOM;
    const bool ctor = (fb & 0x20) != 0 && size >= 8;
    trace("cache_create(slot %llu, size %zu, align %zu, flags 0x%x, ctor %d)%s", (unsigned long long)slot,
          size, align, flags, ctor, u.cache ? " (slot busy)" : "");
    if (u.cache != nullptr) return nothing_to_do();
    std::snprintf(u.name, sizeof u.name, "fz%llu-%zu", (unsigned long long)slot, size);
    KmemCache* c = slab_.cache_create(u.name, size, align, flags, ctor ? &construct : nullptr);
    expect_no_report("cache_create");
    if (c == nullptr) {
      if (!injecting() && pages_.largest_free_order() >= static_cast<int>(kMaxSlabOrder))
        fail("cache_create(%zu) failed with an order-%d block free", size, pages_.largest_free_order());
      return;
    }
    if (c->object_size() != size) fail("cache %s: object_size %zu, asked %zu", u.name, c->object_size(), size);
    if (c->align() < std::max<size_t>(align, 8) || c->align() % std::max<size_t>(align, 8) != 0)
      fail("cache %s: align %zu, asked %zu", u.name, c->align(), align);
    u.cache = c;
    u.size = size;
    u.align = std::max<size_t>(align, 8);
    u.flags = flags;
    u.ctor = ctor;
    u.retired = false;
    u.live = 0;
  }

  void op_cache_alloc(Decoder& in) {
    const uint64_t slot = in.u8() % kUserCaches, fb = in.u8();
    UserCache& u = caches_[slot];
    const gfp_t flags = (fb & 8 ? __GFP_ZERO : 0) | (fb & 16 ? __GFP_NOWARN : 0);
    trace("cache_alloc(slot %llu, flags 0x%x)%s", (unsigned long long)slot, flags,
          u.cache == nullptr ? " (no cache)" : u.retired ? " (retired)" : "");
    if (u.cache == nullptr || live_.size() >= kMaxLive) return nothing_to_do();
    const uint64_t ctor_before = g_ctor_calls;
    const CacheStats before = slab_.stats(u.cache);
    void* p = slab_.cache_alloc(u.cache, flags);
    if (u.retired) {
      // Refused with a report (unless object injection failed it first).
      const bool injected = p == nullptr && g_reports.count == 0 && injecting();
      if (!injected && (p != nullptr || g_reports.count != 1 || g_reports.last != ErrorCode::InvalidArgument))
        fail("cache_alloc on a destroyed cache: expected null and one invalid-argument report");
      g_reports.count = 0;
      return;
    }
    expect_no_report("cache_alloc");
    check_ctor_calls(u, before, ctor_before);
    if (p == nullptr) return check_slab_oom(u.cache, "cache_alloc");
    accept_object(slot, p, flags);
  }

  // The constructor runs when a slab is populated, never on allocation: once
  // per object the new slabs hold. (Counted in objects, not slabs: a slab
  // grown when no block of the preferred order is free has the minimum
  // layout's fewer objects; slabs x objects_per_slab was a harness error
  // that a bulk allocation under memory pressure showed.)
  void check_ctor_calls(const UserCache& u, const CacheStats& before, uint64_t ctor_before) {
    if (!u.ctor) return;
    const CacheStats after = slab_.stats(u.cache);
    const uint64_t grown = after.total_objects > before.total_objects ? after.total_objects - before.total_objects : 0;
    if (g_ctor_calls - ctor_before != grown)
      fail("cache %s: %llu constructor calls for %llu new objects (%llu new slabs, %llu fallback slabs now)",
           u.name, (unsigned long long)(g_ctor_calls - ctor_before), (unsigned long long)grown,
           (unsigned long long)(after.total_slabs - before.total_slabs), (unsigned long long)after.fallback_slabs);
  }

  // What an object of user cache `slot` must satisfy; records it.
  void accept_object(uint64_t slot, void* p, gfp_t flags) {
    const UserCache& u = caches_[slot];
    const uint64_t phys = pages_.to_phys(p).value;
    if (phys % u.align != 0)
      fail("cache %s: object 0x%llx not aligned to %zu", u.name, (unsigned long long)phys, u.align);
    if (slab_.cache_of(p) != u.cache) fail("cache_of(object of %s) is another cache", u.name);
    if (slab_.ksize(p) < u.size) fail("ksize below the object size in %s", u.name);
    check_managed(phys, u.size, "cache object");
    const bool zeroed = (flags & __GFP_ZERO) || (inst_ == 2 && !u.ctor);
    if (u.ctor && !(flags & __GFP_ZERO) && std::memcmp(p, &kConstructed, 8) != 0)
      fail("cache %s handed out an object that is not in its constructed state", u.name);
    if (zeroed && !all_zero(p, u.size))
      fail("cache %s: object not zeroed (flags 0x%x, %s)", u.name, flags, kInstanceNames[inst_]);
    if (u.ctor && (flags & __GFP_ZERO)) std::memcpy(p, &kConstructed, 8);  // the caller rebuilds it
    add_live({.kind = Kind::Object, .ctor = u.ctor, .cache = static_cast<uint8_t>(slot), .phys = phys,
              .ptr = p, .size = u.size, .extent = u.size});
  }

  // cache_alloc_bulk / cache_free_bulk (kmem_cache_*_bulk). Bit 0 of the
  // mode: free, else allocate; count 1 + (mode >> 1) % 32. Allocation is all
  // or nothing (Linux's rule): count objects, each as cache_alloc promises,
  // or 0 and nothing allocated. A free takes count live objects of the slot
  // (fewer if it has fewer). A retired cache (destroyed with live objects)
  // refuses an allocation (one report, nothing allocated) but takes its
  // objects back, in bulk as one by one.
  void op_bulk(Decoder& in) {
    const uint64_t slot = in.u8() % kUserCaches, mode = in.u8(), fb = in.u8();
    UserCache& u = caches_[slot];
    const size_t count = 1 + (mode >> 1) % 32;
    const gfp_t flags = (fb & 8 ? __GFP_ZERO : 0) | (fb & 16 ? __GFP_NOWARN : 0);
    const bool free = mode & 1;
    trace("cache_%s_bulk(slot %llu, %zu, flags 0x%x)%s", free ? "free" : "alloc", (unsigned long long)slot, count,
          flags, u.cache == nullptr ? " (no cache)" : u.retired ? " (retired)" : "");
    if (u.cache == nullptr) return nothing_to_do();
    void* objs[32];
    if (free) {
      size_t n = 0;
      for (long i; n < count && (i = pick(fb, [&](const Live& a) { return a.kind == Kind::Object && a.cache == slot; })) >= 0;)
        objs[n++] = take_live(static_cast<size_t>(i), "cache_free_bulk").ptr;
      if (n == 0) return nothing_to_do();
      slab_.cache_free_bulk(u.cache, n, objs);
      expect_no_report("cache_free_bulk");
      return;
    }
    if (live_.size() + count > kMaxLive) return nothing_to_do();
    const uint64_t ctor_before = g_ctor_calls;
    const CacheStats before = slab_.stats(u.cache);
    const size_t got = slab_.cache_alloc_bulk(u.cache, flags, count, objs);
    trace("  = %zu", got);
    if (u.retired) {
      const bool injected = got == 0 && g_reports.count == 0 && injecting();
      if (!injected && (got != 0 || g_reports.count != 1 || g_reports.last != ErrorCode::InvalidArgument))
        fail("cache_alloc_bulk on a destroyed cache: got %zu, %u reports, expected 0 and one invalid-argument",
             got, g_reports.count);
      g_reports.count = 0;
      return;
    }
    expect_no_report("cache_alloc_bulk");
    if (got != 0 && got != count) fail("cache_alloc_bulk(%zu) gave %zu: all or nothing", count, got);
    // 0: nothing allocated (verify() and the frame accounting after the
    // step check that what it took was given back). No out-of-memory
    // check as for cache_alloc: the slabs its rollback empties may go back
    // to the buddy, so a free block afterwards proves nothing.
    if (got == 0) return;
    check_ctor_calls(u, before, ctor_before);
    for (size_t i = 0; i < got; ++i) accept_object(slot, objs[i], flags);
  }

  // pf_reclaim: every cache shrunk, every CPU's page cache drained. Frees
  // what the slab layer reports released (and the drained frames).
  void op_reclaim() {
    trace("reclaim");
    checkpoint_ = true;
    const uint64_t before = pages_.counters().free_frames;
    const size_t released = slab_.reclaim();
    expect_no_report("reclaim");
    const PageCounters c = pages_.counters();
    if (c.cached_frames != 0) fail("frames left in per-CPU caches after reclaim");
    if (c.free_frames < before + released)
      fail("reclaim said %zu frames released; the free count rose by %lld", released,
           (long long)(c.free_frames - before));
  }

  void op_cache_free(Decoder& in) {
    const uint64_t k = in.u16();
    const long i = pick(k, [](const Live& a) { return a.kind == Kind::Object; });
    trace("cache_free #%llu%s", (unsigned long long)k, i < 0 ? " (none)" : "");
    if (i < 0) return nothing_to_do();
    free_live(static_cast<size_t>(i), "cache_free");
  }

  // Destroys a cache; with live objects (some inputs) the destroy is refused
  // as documented: one report, the cache retired, its objects still freeable.
  void op_cache_destroy(Decoder& in) {
    const uint64_t slot = in.u8() % kUserCaches, mode = in.u8();
    UserCache& u = caches_[slot];
    trace("cache_destroy(slot %llu, mode %llu)%s", (unsigned long long)slot, (unsigned long long)mode,
          u.cache == nullptr ? " (no cache)" : "");
    if (u.cache == nullptr) return nothing_to_do();
    checkpoint_ = true;
    if (mode % 4 != 0 || u.live == 0) {
      for (long i; (i = pick(0, [&](const Live& a) { return a.kind == Kind::Object && a.cache == slot; })) >= 0;)
        free_live(static_cast<size_t>(i), "cache_destroy");
      destroy(slot);
      return;
    }
    const size_t live = slab_.cache_destroy(u.cache);
    if (live != u.live || g_reports.count != 1 || g_reports.last != ErrorCode::CacheDestroyedWithLiveObjects)
      fail("cache_destroy(%s) with %llu live: returned %zu, %u reports (last %s)", u.name,
           (unsigned long long)u.live, live, g_reports.count, error_name(g_reports.last));
    g_reports.count = 0;
    u.retired = true;
  }

  void destroy(uint64_t slot) {
    UserCache& u = caches_[slot];
    const size_t live = slab_.cache_destroy(u.cache);
    expect_no_report("cache_destroy");
    if (live != 0) fail("cache_destroy(%s) found %zu live objects, the model none", u.name, live);
    u.cache = nullptr;
  }

  // Alignment kmalloc(size) promises: a power-of-two size to itself (up to a
  // page), everything to 8; blocks above 8 KiB to a page (in fact to their size).
  static uint64_t kmalloc_promise(uint64_t size) {
    if (size > kKmallocMaxSize) return kPageSize;
    if (is_power_of_two(size)) return std::clamp<uint64_t>(size, 8, kPageSize);
    return 8;
  }

  static uint64_t decode_size(Decoder& in) {
    const uint64_t m = in.u8(), v = in.u16();
    switch (m % 8) {
      case 0:
      case 1:
      case 2: return 1 + v % 256;
      case 3: return 1 + v % kKmallocMaxSize;
      case 4: return kKmallocSizes[v % kKmallocClassCount] + (m >> 6) - 1;  // a class edge: -1, 0, +1, +2
      case 5: return kKmallocMaxSize + 1 + (v << 4) % (4 * MiB - kKmallocMaxSize);  // large
      case 6: return uint64_t{1} << (v % 23);                                     // 1 .. 4 MiB
      default: return 4 * MiB + 1 + v % 3;                                        // above the largest block
    }
  }

  // What a kmalloc-family result must satisfy; records it. `align` 0: plain
  // kmalloc. `in_place`: a krealloc that kept the object (its kind stays).
  // `fresh`: not a krealloc (whose bytes are the old ones, never zeroed).
  void accept_kmalloc(void* p, uint64_t size, uint64_t align, gfp_t flags, const char* what,
                      bool fresh = true, const Live* in_place = nullptr) {
    const uint64_t phys = pages_.to_phys(p).value;
    const bool zone_limited = (flags & (__GFP_DMA | __GFP_DMA32)) != 0;
    const bool large = in_place != nullptr ? in_place->large
                                           : size > kKmallocMaxSize || zone_limited || align > kPageSize;
    const uint64_t promise = align != 0 ? align : kmalloc_promise(size);
    if (phys % promise != 0)
      fail("%s(%llu, align %llu) gave 0x%llx: not aligned to %llu", what, (unsigned long long)size,
           (unsigned long long)align, (unsigned long long)phys, (unsigned long long)promise);
    KmemCache* c = slab_.cache_of(p);
    if (large != (c == nullptr))
      fail("%s(%llu, flags 0x%x) gave %s, expected %s", what, (unsigned long long)size, flags,
           c ? "a slab object" : "a large block", large ? "a large block" : "a slab object");
    const uint64_t ks = slab_.ksize(p);
    expect_no_report("ksize");
    if (ks < size) fail("%s(%llu): ksize %llu", what, (unsigned long long)size, (unsigned long long)ks);
    Live a{.kind = Kind::Kmalloc, .large = large, .phys = phys, .ptr = p, .size = size, .extent = ks};
    if (large) {
      uint64_t frames = (size + kPageSize - 1) >> kPageShift;
      if (align > kPageSize) frames = std::max(frames, align >> kPageShift);
      const Order o = in_place != nullptr ? Order{in_place->order} : order_for_frames(frames);
      if (ks != o.bytes())
        fail("%s(%llu): a large block of ksize %llu, expected order %u", what, (unsigned long long)size,
             (unsigned long long)ks, o.value);
      if (!block_aligned(to_pfn(PhysAddr{phys}), o)) fail("%s: large block not naturally aligned", what);
      check_zone(phys, ks, flags, what);
      a.order = o.value;
      a.frames = o.frames();
    } else {
      if (c->object_size() < size) fail("%s(%llu) from %s", what, (unsigned long long)size, c->name());
      if (align == 0 && in_place == nullptr && c != slab_.kmalloc_cache_for(size))
        fail("%s(%llu) from %s, not the smallest class", what, (unsigned long long)size, c->name());
    }
    check_managed(phys, ks, what);
    // init_on_alloc zeroes cache objects; large blocks only for __GFP_ZERO.
    const bool zeroed = fresh && ((flags & __GFP_ZERO) || (inst_ == 2 && !large));
    if (zeroed && !all_zero(p, size))
      fail("%s(%llu, flags 0x%x, %s) is not zero", what, (unsigned long long)size, flags, kInstanceNames[inst_]);
    add_live(a);
  }

  void op_kmalloc(Decoder& in) {
    const uint64_t mode = in.u8();
    uint64_t size = decode_size(in);
    const uint64_t fb = in.u8();
    // Zone limits only now and then: they turn any size into a whole block.
    gfp_t flags = decode_flags((fb & 0xe0) == 0xe0 ? fb : fb & ~uint64_t{7});
    flags &= ~__GFP_THISZONE;
    const uint64_t align = (mode % 4 == 1) ? uint64_t{1} << (in.u8() % 14) : 0;
    const bool zero = mode % 4 == 2;
    // kcalloc: the size as n elements of size / n bytes (rounded down).
    const uint64_t n = mode % 4 == 3 ? 1 + (mode >> 2) % 16 : 0;
    if (n != 0) size = std::max<uint64_t>(1, size / n) * n;
    const char* what = zero ? "kzalloc" : align ? "kmalloc_aligned" : n ? "kcalloc" : "kmalloc";
    trace("%s(%llu, align %llu, flags 0x%x)", what, (unsigned long long)size, (unsigned long long)align, flags);
    if (live_.size() >= kMaxLive) return nothing_to_do();
    void* p = zero ? slab_.kzalloc(size, flags)
              : align ? slab_.kmalloc_aligned(size, align, flags)
              : n     ? slab_.kcalloc(n, size / n, flags)
                      : slab_.kmalloc(size, flags);
    expect_no_report(what);
    if (zero || n) flags |= __GFP_ZERO;
    if (p == nullptr) {
      if (size > (kPageSize << kMaxOrder)) return;  // above the largest block: null, no report
      const bool large = size > kKmallocMaxSize || (flags & (__GFP_DMA | __GFP_DMA32)) || align > kPageSize;
      if (large) {
        uint64_t frames = (size + kPageSize - 1) >> kPageShift;
        if (align > kPageSize) frames = std::max(frames, align >> kPageShift);
        return check_page_oom(order_for_frames(frames).value, flags, what);
      }
      if (align == 0) return check_slab_oom(slab_.kmalloc_cache_for(size), what);
      return;
    }
    if (size > (kPageSize << kMaxOrder)) fail("%s(%llu) above the largest block succeeded", what, (unsigned long long)size);
    accept_kmalloc(p, size, align, flags, what);
  }

  // krealloc, or (`aligned`) krealloc_aligned with an alignment of 1 B ..
  // 8 KiB (as kmalloc_aligned's): the result is as kmalloc_aligned(size,
  // align) promises, in place when the new size fits and p is aligned.
  void op_krealloc(Decoder& in, bool aligned) {
    const uint64_t k = in.u16();
    const uint64_t size_mode = in.u8();
    const uint64_t align = aligned ? uint64_t{1} << (in.u8() % 14) : 0;
    const char* what = aligned ? "krealloc_aligned" : "krealloc";
    const long i = pick(k, [](const Live& a) { return a.kind == Kind::Kmalloc; });
    if (i < 0) {
      trace("%s (no kmalloc live)", what);
      return nothing_to_do();
    }
    const Live old = live_[static_cast<size_t>(i)];
    uint64_t size;
    switch (size_mode % 6) {
      case 0: size = std::max<uint64_t>(1, old.size / 2); break;        // shrink
      case 1: size = old.size + 1 + size_mode % 64; break;               // a little more
      case 2: size = old.extent; break;                                   // all of ksize
      case 3: size = old.size * 2 + 1; break;                             // double
      case 4: size = kKmallocMaxSize + 1 + (size_mode << 8); break;      // large
      default: size = 0; break;                                           // krealloc(p, 0) frees
    }
    if (size > 4 * MiB) size = 4 * MiB;
    trace("%s(0x%llx size %llu -> %llu, align %llu)", what, (unsigned long long)old.phys,
          (unsigned long long)old.size, (unsigned long long)size, (unsigned long long)align);
    auto call = [&](uint64_t n) {
      return aligned ? slab_.krealloc_aligned(old.ptr, n, align, __GFP_NOWARN)
                     : slab_.krealloc(old.ptr, n, __GFP_NOWARN);
    };
    if (size == 0) {  // frees: the model lets go first (the pattern is checked there)
      take_live(static_cast<size_t>(i), "krealloc to 0");
      if (call(0) != nullptr) fail("%s(p, 0) returned non-null", what);
      expect_no_report("krealloc(p, 0)");
      return;
    }
    check_stamp(old, what);
    const KmemCache* oc = slab_.cache_of(old.ptr);
    const uint64_t capacity = oc != nullptr && oc->debug() ? oc->object_size() : old.extent;
    void* q = call(size);
    expect_no_report(what);
    if (q == nullptr) {  // p untouched
      check_stamp(old, "failed krealloc");
      return;
    }
    // In place exactly when the new size fits what p has (a debug cache's
    // object grows to its full size) and p meets the alignment (krealloc:
    // 8); else moved. (q is the new block: p is freed after the copy.)
    {
      const bool fits = size <= capacity && old.phys % (aligned ? align : 8) == 0;
      if (fits != (q == old.ptr))
        fail("%s(0x%llx size %llu, ksize %llu -> %llu, align %llu): %s", what, (unsigned long long)old.phys,
             (unsigned long long)old.size, (unsigned long long)old.extent, (unsigned long long)size,
             (unsigned long long)align, fits ? "moved, though it fits" : "kept in place, though it does not fit");
    }
    // The bytes both sizes cover moved (or stayed) intact.
    const uint64_t kept = std::min(old.size, size);
    if (first_mismatch(q, kept, old.seed) != kept)
      fail("%s 0x%llx -> %p: the first %llu bytes changed", what, (unsigned long long)old.phys, q,
           (unsigned long long)kept);
    // Re-enter the model as a new allocation with a new pattern.
    {
      Live& l = live_[static_cast<size_t>(i)];
      remove_interval(l);
      if (l.large) large_frames_ -= l.frames;
      live_[static_cast<size_t>(i)] = live_.back();
      live_.pop_back();
    }
    accept_kmalloc(q, size, aligned ? align : 8, 0, what, false, q == old.ptr ? &old : nullptr);
  }

  void op_kfree(Decoder& in) {
    const uint64_t k = in.u16();
    const long i = pick(k, [](const Live& a) { return a.kind == Kind::Kmalloc; });
    trace("kfree #%llu%s", (unsigned long long)k, i < 0 ? " (none)" : "");
    if (i < 0) return nothing_to_do();
    free_live(static_cast<size_t>(i), "kfree");
  }

  // kfree_sized(p, size): any size up to ksize(p) frees p as kfree does
  // (the size asked for, ksize itself, 0, 1, a size of another class, any
  // in between), and so does any size of p's own kmalloc class; another one
  // above ksize is misuse: slab-wrong-size, nothing freed.
  void op_kfree_sized(Decoder& in) {
    const uint64_t k = in.u16(), mode = in.u8();
    const long i = pick(k, [](const Live& a) { return a.kind == Kind::Kmalloc; });
    trace("kfree_sized #%llu mode %llu%s", (unsigned long long)k, (unsigned long long)mode, i < 0 ? " (none)" : "");
    if (i < 0) return nothing_to_do();
    const Live& a = live_[static_cast<size_t>(i)];
    const uint64_t ks = slab_.ksize(a.ptr);
    expect_no_report("ksize");
    if (ks != a.extent) fail("ksize of 0x%llx is %llu, it was %llu", (unsigned long long)a.phys,
                             (unsigned long long)ks, (unsigned long long)a.extent);
    // Bits 0-2 pick the size, bits 3-7 (n) vary it.
    const uint64_t n = mode >> 3;
    uint64_t size;
    switch (mode & 7) {
      case 1: size = ks; break;
      case 2: size = 0; break;
      case 3: size = 1; break;
      case 4: size = 1 + n * 37 % ks; break;
      case 5: size = ks + 1 + n; break;            // misuse
      case 6: size = ks + 1 + (n << 12); break;    // misuse, pages beyond
      default: size = a.size; break;               // 0, 7: the size asked for
    }
    trace("  = kfree_sized(%s 0x%llx ksize %llu, %llu)", a.large ? "large" : "object", (unsigned long long)a.phys,
          (unsigned long long)ks, (unsigned long long)size);
    // A size of the object's own class is always accepted (the fast path
    // names the cache by the size): in a debug cache such a size may be
    // above ksize, which is the size asked for there.
    const KmemCache* c = slab_.cache_of(a.ptr);
    const bool own_class = size >= 1 && size <= kKmallocMaxSize && c != nullptr && slab_.kmalloc_cache_for(size) == c;
    if (size > ks && !own_class) {
      const void* p = a.ptr;
      expect_refused({ErrorCode::SlabWrongSize}, c, "kfree_sized above ksize", [&] { slab_.kfree_sized(p, size); });
      check_stamp(a, "after a refused kfree_sized");
      return;
    }
    const Live b = take_live(static_cast<size_t>(i), "kfree_sized");
    slab_.kfree_sized(b.ptr, size);
    expect_no_report("kfree_sized");
  }

  // fork_prepare then fork_release (as parent, or as child: the pins a
  // shrink_all walker holds are dropped, none here): every lock of both
  // layers taken and given back, nothing allocated in between; nothing may
  // change, and every CPU's caches must serve on afterwards.
  void op_fork(Decoder& in) {
    const bool child = in.u8() & 1;
    trace("fork_prepare; fork_release(%s)", child ? "child" : "parent");
    const PageCounters before = pages_.counters();
    const std::string buddy = buddyinfo(pages_);
    slab_.fork_prepare();
    slab_.fork_release(child);
    expect_no_report("fork_prepare/release");
    if (!(pages_.counters() == before) || buddyinfo(pages_) != buddy) fail("fork_prepare/release changed the page allocator");
  }

  void op_drain(Decoder& in) {
    const uint64_t b = in.u8();
    trace("drain(%s)", b & 1 ? "one cpu" : "all");
    checkpoint_ = true;
    if (b & 1) pages_.drain_cpu_cache(static_cast<unsigned>(b >> 1) % kCpus);
    else pages_.drain_cpu_caches();
    expect_no_report("drain");
    if (!(b & 1) && pages_.counters().cached_frames != 0) fail("frames left in per-CPU caches after a drain");
  }

  void op_shrink(Decoder& in) {
    const uint64_t b = in.u8();
    const uint64_t before = pages_.counters().free_frames;
    size_t released;
    checkpoint_ = true;
    if (b % 5 == 4) {
      trace("shrink_all");
      released = slab_.shrink_all();
    } else {
      KmemCache* c = caches_[b % 4].cache;
      if (c == nullptr || (b & 0x80)) c = slab_.kmalloc_cache((b >> 2) % kKmallocClassCount);
      trace("cache_shrink(%s)", c->name());
      released = slab_.cache_shrink(c);
    }
    expect_no_report("shrink");
    if (pages_.counters().free_frames != before + released)
      fail("shrink said %zu frames released; the free count rose by %lld", released,
           (long long)(pages_.counters().free_frames - before));
  }

  void op_cpu(Decoder& in) {
    const unsigned cpu = static_cast<unsigned>(in.u8() % kCpus);
    trace("cpu %u", cpu);
    hosted::set_this_thread_cpu(cpu);
    nothing_to_do();  // nothing in the allocator changed
  }

  // Bit 0: off; else bit 1 picks the layer (pages, or objects) whose
  // (1 + (b >> 2) % 8)th allocation from now, and every later one, fails.
  void op_inject(Decoder& in) {
    const uint64_t b = in.u8();
    nothing_to_do();  // armed, not fired: nothing changed yet
    if (b & 1) {
      trace("fail_after(0)");
      pages_.set_fail_after(0);
      slab_.set_fail_after(0);
      injecting_ = false;
      return;
    }
    const uint64_t n = 1 + (b >> 2) % 8;
    trace("%s fail_after(%llu)", (b & 2) ? "object" : "page", (unsigned long long)n);
    if (b & 2) slab_.set_fail_after(n);
    else pages_.set_fail_after(n);
    injecting_ = true;
  }

  // ---- misuse -------------------------------------------------------------------------------

  struct Snapshot {
    PageCounters counters;
    std::string buddy;
    CacheStats cache;
  };
  Snapshot snapshot(const KmemCache* c) {
    return {pages_.counters(), buddyinfo(pages_), c ? slab_.stats(c) : CacheStats{}};
  }
  static bool same(const CacheStats& a, const CacheStats& b) {
    return a.active_objects == b.active_objects && a.total_slabs == b.total_slabs &&
           a.cpu_cached == b.cpu_cached && a.active_slabs == b.active_slabs;
  }

  // `fn` must make exactly one report, one of `codes`, and change nothing.
  template <typename Fn>
  void expect_refused(std::initializer_list<ErrorCode> codes, const KmemCache* c, const char* what, Fn fn) {
    const Snapshot before = snapshot(c);
    g_reports.count = 0;
    fn();
    if (g_reports.count != 1)
      fail("misuse %s: %u reports, expected exactly one (%s)", what, g_reports.count, error_name(*codes.begin()));
    if (std::find(codes.begin(), codes.end(), g_reports.last) == codes.end())
      fail("misuse %s: reported %s, expected %s", what, error_name(g_reports.last), error_name(*codes.begin()));
    if (std::strstr(g_reports.message, error_name(g_reports.last)) == nullptr)
      fail("misuse %s: the message does not name the error: %s", what, g_reports.message);
    g_reports.count = 0;
    const Snapshot after = snapshot(c);
    if (!(after.counters == before.counters) || after.buddy != before.buddy)
      fail("misuse %s changed the page allocator", what);
    if (c != nullptr && !same(after.cache, before.cache)) fail("misuse %s changed cache %s", what, c->name());
  }

  void op_misuse(Decoder& in) {
    const uint64_t kind = in.u8(), k = in.u16();
    auto is = [](Kind want) { return [want](const Live& a) { return a.kind == want; }; };
    switch (kind % 13) {
      case 0: {  // free_pages with another order
        const long i = pick(k, is(Kind::Pages));
        trace("misuse: wrong order%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live& a = live_[i];
        const unsigned o = a.order > 0 ? a.order - 1u : 1u;
        const bool aligned = block_aligned(to_pfn(PhysAddr{a.phys}), Order{o});
        expect_refused({aligned ? ErrorCode::PageWrongOrder : ErrorCode::PageMisaligned}, nullptr, "wrong order",
                       [&] { pages_.free_pages(PhysAddr{a.phys}, Order{o}); });
        return;
      }
      case 1: {  // a tail frame
        const long i = pick(k, [](const Live& a) { return a.kind == Kind::Pages && a.order > 0; });
        trace("misuse: tail frame%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live& a = live_[i];
        const uint64_t j = 1 + (k >> 4) % (a.frames - 1);
        expect_refused({ErrorCode::PageTailFrame}, nullptr, "tail frame",
                       [&] { pages_.free_pages(PhysAddr{a.phys + j * kPageSize}, Order{0}); });
        return;
      }
      case 2: {  // double free of pages or a contig range
        const long i = pick(k, [](const Live& a) { return a.kind == Kind::Pages || a.kind == Kind::Contig; });
        trace("misuse: page double free%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live a = live_[i];
        free_live(static_cast<size_t>(i), "double free");
        if (a.kind == Kind::Pages)
          expect_refused({ErrorCode::PageDoubleFree}, nullptr, "page double free",
                         [&] { pages_.free_pages(PhysAddr{a.phys}, Order{a.order}); });
        else
          expect_refused({ErrorCode::PageDoubleFree}, nullptr, "contig double free",
                         [&] { pages_.free_contig(PhysAddr{a.phys}, a.frames); });
        return;
      }
      case 3: {  // the hole, or beyond all memory
        const uint64_t at = (k & 1) ? kHoleBase + (k >> 1) % ((kHoleEnd - kHoleBase) >> kPageShift) * kPageSize
                                    : 64 * GiB;
        trace("misuse: free outside managed memory 0x%llx", (unsigned long long)at);
        expect_refused({ErrorCode::PageOutsideManaged}, nullptr, "outside managed",
                       [&] { pages_.free_pages(PhysAddr{at}, Order{0}); });
        return;
      }
      case 4: {  // a reserved frame (a descriptor array)
        const auto info = pages_.range_info(k % pages_.range_count());
        trace("misuse: free reserved frame 0x%llx", (unsigned long long)info.descriptors.value);
        if (info.descriptor_bytes == 0) return;
        expect_refused({ErrorCode::PageReserved}, nullptr, "reserved frame",
                       [&] { pages_.free_pages(info.descriptors, Order{0}); });
        return;
      }
      case 5: {  // contig and page frees do not mix
        const long i = pick(k, [](const Live& a) { return a.kind == Kind::Pages || a.kind == Kind::Contig; });
        trace("misuse: contig/page mix-up%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live& a = live_[i];
        if (a.kind == Kind::Contig) {
          const bool pieces = (k >> 8) & 1;
          if (pieces || a.frames == 1) {
            const Pfn pfn = to_pfn(PhysAddr{a.phys});
            unsigned o = 0;  // the first piece's order
            while (o < kMaxOrder && block_aligned(pfn, Order{o + 1}) && (uint64_t{2} << o) <= a.frames) ++o;
            expect_refused({ErrorCode::ContigBadFree}, nullptr, "free_pages on a contig range",
                           [&] { pages_.free_pages(PhysAddr{a.phys}, Order{o}); });
          } else {
            expect_refused({ErrorCode::ContigBadFree}, nullptr, "free_contig with another count",
                           [&] { pages_.free_contig(PhysAddr{a.phys}, a.frames - 1); });
          }
        } else {
          expect_refused({ErrorCode::ContigBadFree}, nullptr, "free_contig on alloc_pages",
                         [&] { pages_.free_contig(PhysAddr{a.phys}, a.frames); });
        }
        return;
      }
      case 6: {  // an interior pointer
        const long i = pick(k, [](const Live& a) {
          return (a.kind == Kind::Kmalloc || a.kind == Kind::Object) && a.extent >= 16;
        });
        trace("misuse: interior pointer%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live& a = live_[i];
        const KmemCache* c = slab_.cache_of(a.ptr);
        char* inside = static_cast<char*>(a.ptr) + 8;
        if (a.kind == Kind::Object)
          expect_refused({ErrorCode::SlabNotObjectStart}, c, "cache_free(p + 8)",
                         [&] { slab_.cache_free(caches_[a.cache].cache, inside); });
        else
          expect_refused({ErrorCode::SlabNotObjectStart}, c, "kfree(p + 8)", [&] { slab_.kfree(inside); });
        return;
      }
      case 7: {  // kfree of memory that is not a slab's
        const long i = pick(k, [](const Live& a) { return a.kind == Kind::Pages || a.kind == Kind::Contig; });
        int local = 0;
        trace("misuse: kfree of a non-slab page%s", i < 0 ? " (stack)" : "");
        const void* p = i >= 0 ? live_[i].ptr : &local;
        expect_refused({ErrorCode::SlabNotSlabPage}, nullptr, "kfree of a non-slab page", [&] { slab_.kfree(p); });
        return;
      }
      case 8: {  // the wrong cache
        const long i = pick(k, [](const Live& a) { return a.kind == Kind::Object || a.kind == Kind::Kmalloc; });
        trace("misuse: wrong cache%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live& a = live_[i];
        KmemCache* own = slab_.cache_of(a.ptr);
        KmemCache* other = nullptr;
        for (unsigned s = 0; s < kUserCaches && other == nullptr; ++s) {
          KmemCache* c = caches_[(s + (k >> 4)) % kUserCaches].cache;
          if (c != nullptr && c != own && !caches_[(s + (k >> 4)) % kUserCaches].retired) other = c;
        }
        if (other == nullptr) other = slab_.kmalloc_cache((k >> 4) % kKmallocClassCount);
        if (other == own) other = slab_.kmalloc_cache((own == slab_.kmalloc_cache(0)) ? 1 : 0);
        if (own == nullptr) {  // a large block is no cache's object
          expect_refused({ErrorCode::SlabNotSlabPage}, other, "cache_free of a large block",
                         [&] { slab_.cache_free(other, a.ptr); });
        } else {
          expect_refused({ErrorCode::SlabWrongCache}, own, "cache_free to the wrong cache",
                         [&] { slab_.cache_free(other, a.ptr); });
        }
        return;
      }
      case 9: {  // an immediate double free of an object
        const long i = pick(k, [](const Live& a) { return (a.kind == Kind::Object || a.kind == Kind::Kmalloc) && !a.large; });
        trace("misuse: immediate object double free%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live a = live_[i];
        KmemCache* c = slab_.cache_of(a.ptr);
        free_live(static_cast<size_t>(i), "object double free");
        // A free that emptied a slab beyond the kept reserve gives its block
        // back: the second free then points into a page that is no slab's.
        const bool still_slab = slab_.cache_of(a.ptr) == c;
        if (a.kind == Kind::Object)
          expect_refused({still_slab ? ErrorCode::SlabDoubleFree : ErrorCode::SlabNotSlabPage},
                         still_slab ? c : nullptr, "cache_free twice",
                         [&] { slab_.cache_free(caches_[a.cache].cache, a.ptr); });
        else
          expect_refused({still_slab ? ErrorCode::SlabDoubleFree : ErrorCode::SlabNotSlabPage},
                         still_slab ? c : nullptr, "kfree twice", [&] { slab_.kfree(a.ptr); });
        return;
      }
      case 12: {  // a delayed double free of a debug cache's object (another free in between)
        const long i = pick(k, [this](const Live& a) {
          if (a.kind != Kind::Object && a.kind != Kind::Kmalloc) return false;
          const KmemCache* c = a.large ? nullptr : slab_.cache_of(a.ptr);
          return c != nullptr && c->debug();
        });
        trace("misuse: delayed double free (debug cache)%s", i < 0 ? " (none)" : "");
        if (i < 0) return nothing_to_do();
        const Live a = live_[i];
        KmemCache* c = slab_.cache_of(a.ptr);
        free_live(static_cast<size_t>(i), "delayed double free");
        const long j = pick(k >> 8, [](const Live&) { return true; });
        if (j >= 0) free_live(static_cast<size_t>(j), "the free in between");
        const bool still_slab = slab_.cache_of(a.ptr) == c;
        // The object's state says free (or it heads its slab's freelist).
        const std::initializer_list<ErrorCode> codes =
            still_slab ? std::initializer_list<ErrorCode>{ErrorCode::SlabDelayedDoubleFree, ErrorCode::SlabDoubleFree}
                       : std::initializer_list<ErrorCode>{ErrorCode::SlabNotSlabPage};
        if (a.kind == Kind::Object)
          expect_refused(codes, still_slab ? c : nullptr, "cache_free, another free, cache_free",
                         [&] { slab_.cache_free(caches_[a.cache].cache, a.ptr); });
        else
          expect_refused(codes, still_slab ? c : nullptr, "kfree, another free, kfree", [&] { slab_.kfree(a.ptr); });
        return;
      }
      case 10: {  // bad cache_create arguments: size 0, or an alignment not a power of two
        trace("misuse: bad cache_create arguments");
        expect_refused({ErrorCode::InvalidArgument}, nullptr, "cache_create(size 0)",
                       [&] { (void)slab_.cache_create("bad", (k & 1) ? 0 : 8, (k & 1) ? 8 : 24, 0, nullptr); });
        return;
      }
      default: {  // bad alloc_contig arguments
        trace("misuse: bad alloc_contig arguments");
        ContigRequest rq;
        rq.align = (k & 1) ? 3 * kPageSize : kPageSize;
        rq.boundary = (k & 1) ? 0 : 1024;
        PhysAddr got{1};
        expect_refused({ErrorCode::InvalidArgument}, nullptr, "alloc_contig bad argument",
                       [&] { got = pages_.alloc_contig(1, rq); });
        if (!got.is_null()) fail("alloc_contig with a bad argument returned memory");
        return;
      }
    }
  }

  void run_op(Decoder& in) {
    switch (in.u8() % 26) {
      case 0:
      case 1: return op_alloc_pages(in);
      case 2: return op_free_any(in);
      case 3: return op_alloc_contig(in);
      case 4: return op_free_pages_or_contig(in);
      case 5: return op_cache_create(in);
      case 6:
      case 7: return op_cache_alloc(in);
      case 8: return op_cache_free(in);
      case 9: return op_cache_destroy(in);
      case 10:
      case 11: return op_kmalloc(in);
      case 12: return op_krealloc(in, false);
      case 13: return op_kfree(in);
      case 14: return op_free_any(in);
      case 15: return op_drain(in);
      case 16: return op_shrink(in);
      case 17: return op_cpu(in);
      case 18: return op_inject(in);
      case 19: return op_misuse(in);
      case 20: return op_bulk(in);
      case 21: return op_reclaim();
      case 22: return op_pages_bulk(in);
      case 23: return op_krealloc(in, true);
      case 24: return op_kfree_sized(in);
      default: return op_fork(in);
    }
  }

  // ---- after every step -------------------------------------------------------------------------

  std::array<const KmemCache*, kUserCaches> known_caches() const {
    std::array<const KmemCache*, kUserCaches> k{};
    for (unsigned i = 0; i < kUserCaches; ++i) k[i] = caches_[i].cache;
    return k;
  }

  void after_step() {
    if (idle_) {
      idle_ = false;
      return;
    }
    check_clean(w_, inst_, "the last op shown");
    account(checkpoint_ || ++steps_ % 16 == 0);
    checkpoint_ = false;
  }

  // managed - free == live page frames + slab frames + per-CPU object array
  // blocks, each term from the model and from a walk of the descriptors.
  // With `slabinfo` (drains, shrinks, destroys, the end, every 16th step:
  // formatting it costs as much as a verify()) the slab term is also what
  // slabinfo reports.
  void account(bool slabinfo) {
    uint64_t slab_heads = 0, meta = 0, large = 0, other = 0;
    for (const RangeView& r : w_.ranges) {
      for (uint64_t p = r.base; p < r.end;) {
        const FrameDescriptor& d = r.desc[p - r.base];
        const FrameState st = frame_state(d);
        if (st == FrameState::Tail || st == FrameState::Reserved) {
          ++p;
          continue;
        }
        const uint64_t n = uint64_t{1} << d.order;
        if (st == FrameState::Slab) slab_heads += n;
        else if (st == FrameState::Allocated)
          (d.owner == kOwnerSlabMeta ? meta : d.owner == kOwnerKmallocLarge ? large : other) += n;
        p += n;
      }
    }
    uint64_t slab_frames = slab_heads;
    if (slabinfo) {
      slab_frames = 0;
      for (unsigned i = 0; i < kInstances; ++i)
        slab_frames += i == inst_ ? slabinfo_frames(slab_, known_caches().data(), kUserCaches) : w_.slab_frames[i];
    }
    if (slab_heads != slab_frames)
      fail("slabinfo says slabs hold %llu frames, the descriptors %llu", (unsigned long long)slab_frames,
           (unsigned long long)slab_heads);
    if (large != large_frames_)
      fail("large kmalloc blocks: %llu frames by descriptor, %llu in the model", (unsigned long long)large,
           (unsigned long long)large_frames_);
    if (other != page_frames_)
      fail("alloc_pages/alloc_contig: %llu frames by descriptor, %llu in the model", (unsigned long long)other,
           (unsigned long long)page_frames_);
    const PageCounters c = pages_.counters();
    if (c.managed_frames != w_.managed) fail("managed frames changed");
    const uint64_t used = page_frames_ + large_frames_ + slab_frames + meta;
    if (c.managed_frames - c.free_frames != used)
      fail("managed %llu - free %llu != pages %llu + large %llu + slabs %llu + per-CPU arrays %llu",
           (unsigned long long)c.managed_frames, (unsigned long long)c.free_frames,
           (unsigned long long)page_frames_, (unsigned long long)large_frames_, (unsigned long long)slab_frames,
           (unsigned long long)meta);
  }

  // Frees everything (each pattern checked), destroys the caches, shrinks
  // and drains: the machine must be as it was built.
  void finish() {
    trace("finish");
    pages_.set_fail_after(0);
    slab_.set_fail_after(0);
    injecting_ = false;
    while (!live_.empty()) free_live(live_.size() - 1, "final free");
    for (unsigned s = 0; s < kUserCaches; ++s)
      if (caches_[s].cache != nullptr) destroy(s);
    slab_.shrink_all();
    pages_.drain_cpu_caches();
    expect_no_report("the final frees");
    checkpoint_ = true;
    after_step();
    hosted::set_this_thread_cpu(0);
    const PageCounters c = pages_.counters();
    if (c.free_frames != w_.initial_free)
      fail("left %lld frames behind (free %llu, initially %llu)", (long long)(w_.initial_free - c.free_frames),
           (unsigned long long)c.free_frames, (unsigned long long)w_.initial_free);
    if (buddyinfo(pages_) != w_.initial_buddyinfo)
      fail("buddyinfo differs from the initial one:\n%s\ninitially:\n%s", buddyinfo(pages_).c_str(),
           w_.initial_buddyinfo.c_str());
    if (slabinfo_frames(slab_, known_caches().data(), kUserCaches) != w_.slab_frames[inst_])
      fail("slab frames differ from the initial count");
  }

  World& w_;
  PageAllocator& pages_;
  SlabAllocator& slab_;
  unsigned inst_;
  std::vector<Live> live_;
  std::map<uint64_t, uint64_t> intervals_;
  UserCache caches_[kUserCaches];
  uint64_t page_frames_ = 0, large_frames_ = 0;
  uint64_t seed_ = 0;
  uint64_t steps_ = 0;
  bool injecting_ = false;
  bool checkpoint_ = false;  // the next account() compares with slabinfo
  bool idle_ = false;        // the last op did not call the allocator
};

void check_clean(World& w, unsigned inst, const char* when) {
  const unsigned before = g_reports.count;
  if (!w.pages.verify() || g_reports.count != before) fail("page verify() failed after %s", when);
  if (!w.slab[inst].verify() || g_reports.count != before) fail("slab verify() failed after %s", when);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static World* world = build_world();
  g_trace.clear();
  g_log.clear();
  g_ops = 0;
  g_reports.count = 0;
  hosted::set_this_thread_cpu(0);
  Decoder in(data, size);
  const unsigned inst = static_cast<unsigned>(in.u8() % 4) % kInstances;
  trace("instance %s", kInstanceNames[inst]);
  Session s(*world, inst);
  s.run(in);
  // OPS_FUZZ_TRACE=1 build/fuzz/ops_fuzz INPUT: what an input did (seed writing).
  static const bool show = std::getenv("OPS_FUZZ_TRACE") != nullptr;
  if (show) g_trace.print(stderr);
  return 0;
}
