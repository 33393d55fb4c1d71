// capi.cpp — the C API of pfalloc.h over the global instances (global.hpp).
//
// Owns: the global PageAllocator and SlabAllocator, and the translation from
// C types to the core's strong types. Every entry point passes its caller's
// return address down, so a misuse report names the code that called
// pfalloc, not pfalloc itself. No locks of its own: the instances lock.
// Page allocations go through a Reclaimer (reclaim.hpp): one that fails for
// lack of memory reclaims the slab layer's caches and runs once more, where
// its flags allow (object allocations do that inside the slab layer).
// Everything else goes to the instances directly.
#include "global.hpp"
#include "reclaim.hpp"

#include <new>

namespace pf {

namespace {
// Constant-initialised: no constructor has to run before pf_init().
constinit PageAllocator g_pages;
// Unbound, its frees look pointers up in g_pages' init table, empty until
// pf_init succeeds (SlabAllocator::lookup_): they are refused, not a crash.
constinit SlabAllocator g_slab{g_pages};
// The map pf_init() builds lives as long as the allocator (reports use it).
constinit MemoryMap* g_map = nullptr;
// Both layers, for the page allocations that may reclaim and retry; a
// constant, so its references fold into the code (no load on a fast path).
constexpr Reclaimer g_reclaimer{g_pages, g_slab};
alignas(MemoryMap) unsigned char g_map_storage[sizeof(MemoryMap)];

KmemCache* to_cache(kmem_cache* c) { return reinterpret_cast<KmemCache*>(c); }
}  // namespace

PageAllocator& global_pages() { return g_pages; }
SlabAllocator& global_slab() { return g_slab; }

int init_global(MemoryMap& map, const PageAllocatorConfig& config, const SlabConfig& slab) {
  if (g_pages.initialised()) return PF_ERR_BAD_CONFIG;
  if (!map.normalised() && !map.normalise()) return PF_ERR_MAP_CAPACITY;
  if (int s = g_pages.init(map, config); s != PF_OK) return s;
  const int status = g_slab.init(g_pages, slab);
  if (status != PF_OK) {
    // The slab layer's failed init gave back what it took and unbound
    // itself; nothing else has seen the page allocator yet. It goes back to
    // its constant-initialised state, so a failed init leaves nothing set
    // up and may be retried (pfalloc.h), with a map that fits.
    PF_ASSERT(!g_slab.initialised());
    g_pages.~PageAllocator();
    new (&g_pages) PageAllocator();
  }
  return status;
}

}  // namespace pf

using namespace pf;

extern "C" {

int pf_init(const struct pf_config* config, const struct pf_region* regions, size_t region_count,
            const struct pf_region* reserved, size_t reserved_count) {
  if (config == nullptr || (regions == nullptr && region_count != 0) ||
      (reserved == nullptr && reserved_count != 0) || g_map != nullptr) {
    return PF_ERR_BAD_CONFIG;
  }
  if (config->cpu_count > kMaxCpus) return PF_ERR_BAD_CONFIG;
  MemmapOptions options;
  options.low_reserved_end = config->low_reserved_end != 0 ? config->low_reserved_end : 1 * MiB;
  // A failed pf_init leaves nothing set up (g_map back to null, both
  // instances uninitialised: init_global), so the caller may retry with a
  // map that fits.
  g_map = new (g_map_storage) MemoryMap(options);
  const int status = [&]() -> int {
    for (size_t i = 0; i < region_count; ++i) {
      const pf_region& r = regions[i];
      if (g_map->add({r.base, r.length, region_type_from_raw(r.type)}) == MapStatus::CapacityExceeded)
        return PF_ERR_MAP_CAPACITY;
    }
    for (size_t i = 0; i < reserved_count; ++i) {
      const pf_region& r = reserved[i];
      RegionType t = r.type == 0 ? RegionType::Kernel : region_type_from_raw(r.type);
      if (g_map->reserve(r.base, r.length, t) == MapStatus::CapacityExceeded)
        return PF_ERR_MAP_CAPACITY;
    }
    PageAllocatorConfig pc;
    pc.direct_map_offset = config->direct_map_offset;
    pc.cpu_count = config->cpu_count != 0 ? config->cpu_count : 1;
    SlabConfig sc;
    sc.debug = config->slab_debug != 0;
    sc.init_on_alloc = config->init_on_alloc != 0;
    sc.init_on_free = config->init_on_free != 0;
    sc.freelist_random = config->slab_random != 0;
    if (config->random_seed != 0) sc.freelist_seed = config->random_seed;
    return init_global(*g_map, pc, sc);
  }();
  if (status != PF_OK) g_map = nullptr;
  return status;
}

// Between pf_fork_prepare and pf_fork_parent/child (defined below).
static bool refuse_while_fork_held(const char* call, const void* caller);

// An order that does not fit Order's byte must not wrap into a valid one:
// the core reports kOrderCount as page-order-out-of-range.
static Order checked_order(unsigned int order) { return Order{order < kOrderCount ? order : kOrderCount}; }

pf_phys_t alloc_pages(unsigned int order, gfp_t flags) {
  return g_reclaimer.alloc_pages(checked_order(order), flags, PF_CALLER).value;
}

void free_pages(pf_phys_t phys, unsigned int order) {
  g_pages.free_pages(PhysAddr{phys}, checked_order(order), PF_CALLER);
}

size_t alloc_pages_bulk(unsigned int order, gfp_t flags, size_t count, pf_phys_t* pages) {
  if (refuse_while_fork_held("alloc_pages_bulk", PF_CALLER)) return 0;
  static_assert(sizeof(PhysAddr) == sizeof(pf_phys_t));
  return g_reclaimer.alloc_pages_bulk(checked_order(order), flags, count,
                                      reinterpret_cast<PhysAddr*>(pages), PF_CALLER);
}

pf_phys_t alloc_contig(size_t frame_count, uint64_t align, uint64_t boundary, uint64_t max_addr,
                       gfp_t flags) {
  if (refuse_while_fork_held("alloc_contig", PF_CALLER)) return 0;
  ContigRequest req;
  req.align = align != 0 ? align : kPageSize;
  req.boundary = boundary;
  req.max_addr = max_addr;
  req.flags = flags;
  return g_reclaimer.alloc_contig(frame_count, req).value;
}

void free_contig(pf_phys_t phys, size_t frame_count) {
  if (refuse_while_fork_held("free_contig", PF_CALLER)) return;
  g_pages.free_contig(PhysAddr{phys}, frame_count, PF_CALLER);
}

size_t pf_release_reserved(unsigned int region_type) {
  if (refuse_while_fork_held("pf_release_reserved", PF_CALLER)) return 0;
  // Anything but the two reclaimable classes is refused by the core; a value
  // too wide for RegionType must not wrap onto one of them.
  const RegionType type = region_type <= 0xffu ? static_cast<RegionType>(region_type) : RegionType::Reserved;
  return g_pages.release_reserved(type);
}

int pf_add_memory(pf_phys_t base, uint64_t bytes) {
  if (refuse_while_fork_held("pf_add_memory", PF_CALLER)) return PF_ERR_BAD_CONFIG;
  return g_pages.add_memory(PhysAddr{base}, bytes);
}

// prepare records whether it took the locks, so that parent/child release
// exactly what it took (a fork before pf_init takes and releases nothing).
// It also records the CPU that holds them: a second prepare on that CPU
// before parent/child (two atfork registrations, say) would wait forever
// for locks its own CPU holds, so it is refused by name instead. A prepare
// on another CPU waits for the holder's release, as it must; a caller
// without a CPU (PF_NO_CPU) is not checked.
namespace {
constinit bool g_fork_held = false;
constinit std::atomic<unsigned> g_fork_holder{PF_NO_CPU};
}
void pf_fork_prepare(void) {
  if (!g_pages.initialised()) return;
  const unsigned cpu = platform::cpu_id();
  if (cpu < kMaxCpus && g_fork_holder.load(std::memory_order_relaxed) == cpu) {
    report({.code = ErrorCode::InvalidArgument,
            .detail = "pf_fork_prepare: called again before pf_fork_parent/child on this CPU "
                      "(it would wait for the locks it holds)",
            .caller = PF_CALLER});
    return;
  }
  g_slab.fork_prepare();  // the slab layer's locks, then the page allocator's
  g_fork_held = true;
  g_fork_holder.store(cpu < kMaxCpus ? cpu : PF_NO_CPU, std::memory_order_relaxed);
}
static void fork_release(bool in_child) {
  if (!g_fork_held) return;
  g_fork_held = false;
  g_fork_holder.store(PF_NO_CPU, std::memory_order_relaxed);
  g_slab.fork_release(in_child);
}
void pf_fork_parent(void) { fork_release(false); }
void pf_fork_child(void) { fork_release(true); }

// The CPU that holds the fork locks would wait for itself in any call that
// takes one: the calls that are no per-CPU fast path refuse it by name
// instead (as a second pf_fork_prepare is refused), with a null result and
// nothing done. The fast-path calls (alloc_pages, kmalloc, kfree, ...) are
// not checked: the caller must not allocate there (pfalloc.h). Relaxed: the
// holder reads its own store; any other CPU reads a value that is not its
// own id (a CPU that released stored PF_NO_CPU itself).
static bool refuse_while_fork_held(const char* call, const void* caller) {
  const unsigned holder = g_fork_holder.load(std::memory_order_relaxed);
  if (holder == PF_NO_CPU || holder != platform::cpu_id()) return false;
  char detail[160];
  TextBuffer t(detail, sizeof detail);
  t.str(call).str(": called between pf_fork_prepare and pf_fork_parent/child on the CPU that holds "
                  "the locks (it would wait for itself)");
  report({.code = ErrorCode::InvalidArgument, .detail = t.c_str(), .caller = caller});
  return true;
}

void pf_drain_pages(void) {
  if (refuse_while_fork_held("pf_drain_pages", PF_CALLER)) return;
  g_pages.drain_cpu_caches();
}

size_t pf_reclaim(void) {
  if (refuse_while_fork_held("pf_reclaim", PF_CALLER)) return 0;
  return g_slab.reclaim();
}

struct kmem_cache* kmem_cache_create(const char* name, size_t size, size_t align,
                                     unsigned int flags, void (*ctor)(void*)) {
  if (refuse_while_fork_held("kmem_cache_create", PF_CALLER)) return nullptr;
  return reinterpret_cast<kmem_cache*>(g_slab.cache_create(name, size, align, flags, ctor, PF_CALLER));
}
void* kmem_cache_alloc(struct kmem_cache* cache, gfp_t flags) {
  return g_slab.cache_alloc(to_cache(cache), flags, PF_CALLER);
}
void kmem_cache_free(struct kmem_cache* cache, void* object) {
  g_slab.cache_free(to_cache(cache), object, PF_CALLER);
}
int kmem_cache_alloc_bulk(struct kmem_cache* cache, gfp_t flags, size_t count, void** objects) {
  if (refuse_while_fork_held("kmem_cache_alloc_bulk", PF_CALLER)) return 0;
  // The count comes back as an int: one it cannot carry is refused before
  // anything is allocated (nor written past a caller's array).
  if (count > static_cast<size_t>(INT32_MAX)) {
    report({.code = ErrorCode::InvalidArgument,
            .detail = "kmem_cache_alloc_bulk: count above INT_MAX (the result is an int)",
            .address = count,
            .caller = PF_CALLER});
    return 0;
  }
  return static_cast<int>(g_slab.cache_alloc_bulk(to_cache(cache), flags, count, objects, PF_CALLER));
}
void kmem_cache_free_bulk(struct kmem_cache* cache, size_t count, void** objects) {
  if (refuse_while_fork_held("kmem_cache_free_bulk", PF_CALLER)) return;
  g_slab.cache_free_bulk(to_cache(cache), count, objects, PF_CALLER);
}
size_t kmem_cache_destroy(struct kmem_cache* cache) {
  if (refuse_while_fork_held("kmem_cache_destroy", PF_CALLER)) return 0;
  return g_slab.cache_destroy(to_cache(cache), PF_CALLER);
}
size_t kmem_cache_shrink(struct kmem_cache* cache) {
  if (refuse_while_fork_held("kmem_cache_shrink", PF_CALLER)) return 0;
  return g_slab.cache_shrink(to_cache(cache), PF_CALLER);
}

void* kmalloc(size_t size, gfp_t flags) { return g_slab.kmalloc(size, flags, PF_CALLER); }
void* kzalloc(size_t size, gfp_t flags) { return g_slab.kzalloc(size, flags, PF_CALLER); }
void* kcalloc(size_t n, size_t size, gfp_t flags) { return g_slab.kcalloc(n, size, flags, PF_CALLER); }
void* krealloc(void* p, size_t new_size, gfp_t flags) {
  return g_slab.krealloc(p, new_size, flags, PF_CALLER);
}
void kfree(const void* p) { g_slab.kfree(p, PF_CALLER); }
void kfree_sized(const void* p, size_t size) { g_slab.kfree_sized(p, size, PF_CALLER); }
size_t ksize(const void* p) { return g_slab.ksize(p, PF_CALLER); }

// Introspection into a caller's memory: a null destination is refused by
// name (it was a crash), nothing written.
static bool refuse_null_output(const char* call, const void* caller) {
  char detail[96];
  TextBuffer t(detail, sizeof detail);
  t.str(call).str(": null destination, nothing written");
  report({.code = ErrorCode::InvalidArgument, .detail = t.c_str(), .caller = caller});
  return false;
}

void pf_get_counters(struct pf_counters* out) {
  if (out == nullptr) {
    refuse_null_output("pf_get_counters", PF_CALLER);
    return;
  }
  PageCounters c = g_pages.counters();
  out->managed_frames = c.managed_frames;
  out->free_frames = c.free_frames;
  out->reserved_frames = c.reserved_frames;
}

size_t pf_format_buddyinfo(char* buffer, size_t size) {
  if (buffer == nullptr && size != 0) return refuse_null_output("pf_format_buddyinfo", PF_CALLER);
  TextBuffer t(buffer, size);
  g_pages.format_buddyinfo(t);
  return t.length();
}

size_t pf_format_slabinfo(char* buffer, size_t size) {
  if (buffer == nullptr && size != 0) return refuse_null_output("pf_format_slabinfo", PF_CALLER);
  TextBuffer t(buffer, size);  // "" when refused below
  if (refuse_while_fork_held("pf_format_slabinfo", PF_CALLER)) return 0;
  g_slab.format_slabinfo(t);
  return t.length();
}

int pf_verify(void) {
  if (refuse_while_fork_held("pf_verify", PF_CALLER)) return -1;
  return g_pages.verify() && g_slab.verify() ? 0 : -1;
}

// One counter per CPU, on its own cache line; bumped with a seq_cst RMW,
// which is the full barrier pf_cpu_service() promises.
namespace {
struct alignas(64) QuiescentCount {
  std::atomic<uint64_t> n{0};
};
constinit QuiescentCount g_quiescent[kMaxCpus];
}  // namespace

void pf_cpu_service(void) {
  const unsigned cpu = platform::cpu_id();
  if (cpu < kMaxCpus) g_quiescent[cpu].n.fetch_add(1, std::memory_order_seq_cst);
}

uint64_t pf_cpu_quiescent_count(unsigned int cpu) {
  return cpu < kMaxCpus ? g_quiescent[cpu].n.load(std::memory_order_acquire) : 0;
}

}  // extern "C"
