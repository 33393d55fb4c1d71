// slab_adaptor.hpp — pfalloc's slab layer behind the peers' object
// interface (obj_alloc/obj_free), two ways: kmalloc/kfree, and a dedicated
// kmem_cache of exactly the benchmarked size. with_objects() gives a fresh
// machine + SlabAllocator per benchmark run and checks that the machine is
// left as found: no live object, verify() clean, every frame back.
#pragma once

#include <memory>
#include <string>

#include "kernel/mm/slab.hpp"
#include "registry.hpp"

namespace pf::bench {

struct OursKmalloc {
  static constexpr const char* kName = "kmalloc";
  SlabAllocator* slab;
  void* obj_alloc(size_t n) { return slab->kmalloc(n, GFP_KERNEL); }
  void obj_free(void* p, size_t) { slab->kfree(p); }
};

// kfree_sized: the size class names the cache before the pointer's lookup,
// as the peers' sized frees (tc_free_sized, sdallocx) know theirs.
struct OursKmallocSized {
  static constexpr const char* kName = "kmalloc-sized";
  SlabAllocator* slab;
  void* obj_alloc(size_t n) { return slab->kmalloc(n, GFP_KERNEL); }
  void obj_free(void* p, size_t n) { slab->kfree_sized(p, n); }
};

struct OursCache {
  static constexpr const char* kName = "cache";
  SlabAllocator* slab;
  KmemCache* cache;
  void* obj_alloc(size_t) { return slab->cache_alloc(cache, GFP_KERNEL); }
  void obj_free(void* p, size_t) { slab->cache_free(cache, p); }
};

template <typename P>
inline constexpr bool kIsOurSlab =
    std::is_same_v<P, OursKmalloc> || std::is_same_v<P, OursKmallocSized> || std::is_same_v<P, OursCache>;

// A SlabAllocator with `config` on `machine` for the body; afterwards its
// verify() must be clean and teardown must find no live object.
template <typename Body>
void with_slab(benchmark::State& state, BenchMachine& machine, const SlabConfig& config, Body&& body) {
  auto slab = std::make_unique<SlabAllocator>();
  if (slab->init(machine.pages(), config) != PF_OK) {
    state.SkipWithError("SlabAllocator::init failed");
    return;
  }
  size_t live = body(*slab);
  if (!state.error_occurred() && !slab->verify()) state.SkipWithError("slab verify() failed");
  live += slab->teardown();
  if (live != 0 && !state.error_occurred())
    state.SkipWithError(("live objects left: " + std::to_string(live)).c_str());
}

// A dedicated cache of `object_size` with `cache_flags` for the body, destroyed
// after it; returns the live objects the destroy found.
template <typename Body>
size_t with_cache(benchmark::State& state, SlabAllocator& slab, size_t object_size,
                  unsigned cache_flags, Body&& body) {
  const std::string name = "bench-" + std::to_string(object_size);
  KmemCache* cache = slab.cache_create(name.c_str(), object_size, 0, cache_flags, nullptr);
  if (cache == nullptr) {
    state.SkipWithError("cache_create failed");
    return 0;
  }
  OursCache a{&slab, cache};
  body(a);
  return slab.cache_destroy(cache);
}

// Ours on a fresh machine of `ram_bytes`; a peer as it is. `object_size` is
// the size the dedicated cache is created for.
template <typename P, typename Body>
void with_objects(benchmark::State& state, uint64_t ram_bytes, size_t object_size, Body&& body) {
  if constexpr (kIsOurSlab<P>) {
    on_fresh_machine(state, ram_bytes, [&](BenchMachine& machine) {
      with_slab(state, machine, SlabConfig{.cpu_count = kBenchCpus}, [&](SlabAllocator& slab) -> size_t {
        if constexpr (!std::is_same_v<P, OursCache>) {
          P a{&slab};
          body(a);
          return 0;
        } else {
          return with_cache(state, slab, object_size, 0, body);
        }
      });
    });
  } else {
    (void)ram_bytes;
    (void)object_size;
    P a{};
    body(a);
  }
}

}  // namespace pf::bench
