// judge.cpp — judge_no_memory_by_the_rules, the out-of-memory judge a
// runner gives its cases (Context::judge_no_memory; see facade.hpp): the
// kernel's runner (kernel/selftest.cpp) on every machine it boots, the
// GoogleTest runner on its tiny-machine suite (kmalloc_test.cpp).
//
// A request of the running case came back null. The allocator was right to
// refuse it only if, with what it takes back itself before it says no
// (every CPU's page cache, alloc_pages' last resort; the slab caches' spare
// objects and empty slabs, kmalloc's reclaim and retry, reclaim.hpp), there
// is still no room for the need (buddy_could_hold: a block of its order,
// and a page for a slab header when kmem_slab has no free one). Then the
// case is skipped, named with the figures; otherwise the null is the
// allocator's failure. Exact where the case's own earlier requests (and
// the per-CPU refills they caused) took the room: they hold what they hold
// when the judge looks, and no threshold guesses what they would take.
#include "facade.hpp"
#include "kernel/mm/frame.hpp"
#include "kernel/mm/page_alloc.hpp"
#include "kernel/mm/slab.hpp"
#include "kernel/mm/text.hpp"

namespace pf::conformance {

namespace {

// The longest run of free frames in one range (every CPU's cache drained:
// each free frame lies in a Free block), what alloc_contig looks for.
uint64_t longest_free_run(const PageAllocator& pages) {
  uint64_t best = 0;
  for (size_t i = 0; i < pages.range_count(); ++i) {
    const PageAllocator::RangeInfo r = pages.range_info(i);
    uint64_t run = 0;
    for (uint64_t pfn = r.base.value >> kPageShift; pfn < r.end.value >> kPageShift;) {
      const FrameDescriptor* d = pages.descriptor(Pfn{pfn});
      if (d != nullptr && frame_state(*d) == FrameState::Free) {
        const uint64_t n = uint64_t{1} << frame_order(*d);
        run += n;
        pfn += n;
        if (run > best) best = run;
      } else {
        run = 0;
        ++pfn;
      }
    }
  }
  return best;
}

}  // namespace

bool judge_no_memory_by_the_rules(Context& ctx, MemoryNeed need, const char* what) {
  if (ctx.slab != nullptr) ctx.slab->shrink_all();
  ctx.pages.drain_cpu_caches();
  const uint64_t free_frames = ctx.pages.counters().free_frames;
  const int largest = ctx.pages.largest_free_order();
  // One case runs at a time (the kernel's runner; a gtest case), and the
  // reason is printed before the next one starts.
  static char why[320];
  TextBuffer t(why, sizeof why);
  t.str("out of memory by the allocator's rules: ").str(what).str(" failed; ");
  switch (need.kind) {
    case MemoryNeed::kBlock: {
      uint64_t extra = 0;
      if (need.slab_header && ctx.slab != nullptr) {
        const CacheStats h = ctx.slab->stats(ctx.slab->header_cache());
        if (h.total_objects == h.active_objects) extra = h.min_pages_per_slab;
      }
      if (buddy_could_hold(largest, free_frames, need.order, extra)) return false;
      t.str("it needs a block of ").size(kPageSize << need.order);
      if (extra != 0) t.str(" and ").size(extra * kPageSize).str(" for a slab header");
      break;
    }
    case MemoryNeed::kContig: {
      const uint64_t run = longest_free_run(ctx.pages);
      if (run >= need.frames) return false;
      t.str("it needs ").size(need.frames * kPageSize).str(" in a row; the longest free run is ")
          .size(run * kPageSize);
      break;
    }
    case MemoryNeed::kCacheCreate: {
      // What a new cache takes (its record, from kmem_cache; its per-CPU
      // arrays' block, sized by the CPU count and the machine) is the slab
      // layer's own arithmetic, not the case's: asked again now that
      // everything the allocator may take back is back. Met now, the
      // refusal broke the rule that an allocation reclaims before it fails.
      if (ctx.slab == nullptr) return false;
      KmemCache* again = ctx.slab->cache_create("judge-again", need.size, need.align, need.cache_flags, nullptr);
      if (again != nullptr) {
        ctx.slab->cache_destroy(again);
        return false;
      }
      t.str("a cache of ").size(need.size).str(" objects, asked again after reclaim, failed again");
      break;
    }
  }
  t.str("; with every cache drained and shrunk ").size(free_frames * kPageSize)
      .str(" is free, the largest block ").size(largest < 0 ? 0 : kPageSize << largest);
  ctx.skip_reason = t.c_str();
  return true;
}

}  // namespace pf::conformance
