// slab_stats.cpp — what the slab layer says about itself: per-cache
// statistics, /proc/slabinfo text, and verify(), the full structural walk.
//
// Each reads one cache at a time with every CPU's arrays held (CpuAccessAll
// over the allocator's gates: the owners stopped, see cpu_cache.hpp), then
// the cache's node lock (the order of slab.hpp), so the figures of one cache
// are a consistent snapshot; the list of caches is
// held under caches_lock_ for the whole walk. Nothing is changed. A failure
// found by verify() is reported once every lock is dropped.
#include "page_alloc.hpp"
#include "slab.hpp"

namespace pf {

namespace {
using slab_detail::CpuArray;
using slab_detail::Slab;

using namespace slab_detail;  // kList*

}  // namespace

CacheStats SlabAllocator::stats(const KmemCache* c) const {
  CacheStats st;
  if (c == nullptr || called_from_ctor("slab statistics", nullptr)) return st;
  {
    CpuAccessAll held(all_gates(), cpu_count_);
    LockGuard node(c->node_lock_);
    if (c->cpu_ != nullptr)
      for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) st.cpu_cached += cpu_array(c, cpu).size();
    st.depot_cached = c->depot_count_;
    st.active_objects = c->inuse_ - st.cpu_cached - st.depot_cached;
    st.total_slabs = c->slab_count_;
    st.active_slabs = c->slab_count_ - c->empty_.count;
    st.total_objects = c->total_objects_;
    st.fallback_slabs = c->fallback_slabs_;
  }
  st.object_size = c->object_size_;
  st.stride = c->stride_;
  st.objects_per_slab = c->objs_per_slab_;
  st.pages_per_slab = uint64_t{1} << c->order_;
  st.min_objects_per_slab = c->min_objs_;
  st.min_pages_per_slab = uint64_t{1} << c->min_order_;
  st.cpu_limit = c->cpu_ != nullptr ? c->cpu_limit_ : 0;
  st.cpu_batch = c->cpu_ != nullptr ? c->cpu_batch_ : 0;
  st.depot_limit = c->depot_limit_;
  return st;
}

uint64_t SlabAllocator::cpu_cached_objects(unsigned cpu) const {
  if (cpu >= cpu_count_ || called_from_ctor("slab statistics", nullptr)) return 0;
  uint64_t objects = 0;
  auto add = [&](const KmemCache* c) {
    if (c->cpu_ != nullptr) objects += cpu_array(c, cpu).size();
  };
  LockGuard g(caches_lock_);
  auto held = hold(cpu);  // that CPU's arrays stand still (lock order: after caches_lock_)
  for (const KmemCache* c = caches_; c != nullptr; c = c->next_) add(c);
  add(&slab_cache_);
  add(&cache_cache_);
  return objects;
}

// Linux's layout: "%-17s %6lu %6lu %6u %4u %4d : tunables %4u %4u %4u :
// slabdata %6lu %6lu %6lu"; objsize is the stride (object plus metadata and
// alignment), as Linux prints it; sharedfactor and sharedavail are 0 (there
// is no shared array between the per-CPU arrays and the slabs).
void SlabAllocator::format_slabinfo(TextBuffer& out) const {
  if (called_from_ctor("pf_format_slabinfo", PF_CALLER)) return;
  out.str("slabinfo - version: 2.1").nl();
  out.str("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>"
          " : tunables <limit> <batchcount> <sharedfactor>"
          " : slabdata <active_slabs> <num_slabs> <sharedavail>")
      .nl();
  if (pages_ == nullptr) return;
  auto row = [&](const KmemCache* c) {
    const CacheStats st = stats(c);
    out.str_w(c->name_, -17).ch(' ');
    out.dec_w(st.active_objects, 6).ch(' ').dec_w(st.total_objects, 6).ch(' ');
    out.dec_w(st.stride, 6).ch(' ').dec_w(st.objects_per_slab, 4).ch(' ');
    out.dec_w(st.pages_per_slab, 4);
    out.str(" : tunables ").dec_w(st.cpu_limit, 4).ch(' ').dec_w(st.cpu_batch, 4).ch(' ');
    out.dec_w(0, 4);
    out.str(" : slabdata ").dec_w(st.active_slabs, 6).ch(' ').dec_w(st.total_slabs, 6).ch(' ');
    out.dec_w(0, 6).nl();
  };
  LockGuard g(caches_lock_);
  for (const KmemCache* c = caches_; c != nullptr; c = c->next_) row(c);
  row(&slab_cache_);
  row(&cache_cache_);
}

bool SlabAllocator::verify() const {
  if (pages_ == nullptr) {
    // Unbound: the frees' copy of the lookup is the unbound table (lookup_
    // in slab.hpp), which sends every pointer to the slow paths' refusal.
    if (detail::load_acquire(lookup_) == unbound_lookup_ && unbound_lookup_ != nullptr) return true;
    report({.code = ErrorCode::VerifyFailed,
            .detail = "the slab layer is not initialised but its copy of the pfn lookup is not its unbound table",
            .address = reinterpret_cast<uintptr_t>(detail::load_acquire(lookup_)),
            .address_is_virtual = true});
    return false;
  }
  // Every CPU's arrays are held for the walk, this CPU's too.
  if (called_from_ctor("verify", PF_CALLER)) return false;
  VerifyFailure fail;
  {
    LockGuard g(caches_lock_);
    fail = verify_cache(&cache_cache_);
    if (fail.detail == nullptr) fail = verify_cache(&slab_cache_);
    for (const KmemCache* c = caches_; c != nullptr && fail.detail == nullptr; c = c->next_)
      fail = verify_cache(c);
  }
  // kmalloc's one-load table: kmalloc_by_size_[(size - 1) / 8] is the
  // cache of kmalloc_class_index(size) for every size of each granule.
  for (size_t i = 0; i < kmalloc_by_size_.size() && fail.detail == nullptr; ++i)
    if (kmalloc_by_size_[i] != kmalloc_caches_[slab_detail::kmalloc_class_index(i * 8 + 1)] ||
        kmalloc_by_size_[i] != kmalloc_caches_[slab_detail::kmalloc_class_index(i * 8 + 8)])
      fail = {.detail = "kmalloc size table entry is not the cache of its sizes' class",
              .address = i * 8 + 8};
    else if (kmalloc_by_size_[i] == nullptr && fast_cpus_.load(std::memory_order_relaxed) != 0)
      fail = {.detail = "kmalloc size table entry is null while the fast paths are open",
              .address = i * 8 + 8};
  // The frees' copy of the page allocator's lookup (lookup_ in slab.hpp).
  if (fail.detail == nullptr && !pages_->lookup_was_published(detail::load_acquire(lookup_)))
    fail = {.detail = "the slab layer's copy of the pfn lookup is no table the page allocator published",
            .address = reinterpret_cast<uintptr_t>(detail::load_acquire(lookup_))};
  // The fast paths' only range test is a closed gate (gates_ in slab.hpp):
  // gates_[i] closed <=> i >= fast_cpus_, for every value cpu_id() can take.
  // Read under each gate's lock (set_fast_paths writes it there).
  const unsigned open = fast_cpus_.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < kCpuIdBound && fail.detail == nullptr; ++i) {
    LockGuard g(gates_[i].lock());
    if (gates_[i].closed() != (i >= open))
      fail = {.detail = i >= open ? "a CPU gate the fast paths may not use is open"
                                  : "a CPU gate of an open fast path is closed",
              .address = i};
  }
  if (fail.detail == nullptr) return true;
  report({.code = fail.code,
          .detail = fail.detail,
          .address = fail.address,
          .address_is_virtual = true,
          .cache = fail.cache});
  return false;
}

SlabAllocator::VerifyFailure SlabAllocator::verify_cache(const KmemCache* c) const {
  VerifyFailure fail;
  auto check = [&](bool ok, const char* detail, const void* where) {
    if (!ok && fail.detail == nullptr) {
      fail.detail = detail;
      fail.address = reinterpret_cast<uintptr_t>(where);
    }
    return ok;
  };

  CpuAccessAll held(all_gates(), cpu_count_);
  const unsigned long irq = platform::irq_save();
  c->node_lock_.lock();
  uint64_t cpu_entries = 0;
  // The fast paths' view (KmemCache::fast_cpu_): the real arrays while the
  // cache has arrays they may use (no room once retired), else the empty
  // table and no room; the empty table is never written.
  const bool serve = may_serve(c);
  check(serve ? c->fast_cpu_ == reinterpret_cast<const slab_detail::CpuArrayLine*>(c->cpu_) &&
                    c->fast_limit_ == (c->retired_ ? 0 : stack_limit(c))
              : c->fast_cpu_ == slab_detail::kNoCpuArrays && c->fast_limit_ == 0,
        "fast-path view of the per-CPU arrays differs from the cache's state", c);
  // kmalloc's pop clears the slot without free_offset_ (alloc_object<.., true>).
  check((!c->kmalloc_ || c->ctor_ == nullptr) &&
            (c->fast_cpu_ == slab_detail::kNoCpuArrays || c->ctor_ != nullptr || c->free_offset_ == 0),
        "a cache the fast paths serve without a constructor keeps its link past the object's start", c);
  // The link slot's place (slab_detail::LinkAt): spread over the object's
  // lines exactly when it lives in the object, within the stride.
  check(c->spread_mask_ == (c->free_offset_ == 0 ? slab_detail::spread_mask_for(c->stride_) : 0) &&
            (c->debug_ ? c->free_offset_ == c->redzone_end_
                       : c->free_offset_ == 0 || c->free_offset_ >= c->object_size_) &&
            uint64_t{c->free_offset_} + c->spread_mask_ + sizeof(void*) <= c->stride_,
        "link slot's offset or spread does not match the cache's layout", c);
  // The object-start test (starts_object): m = floor(2^64 / stride) + 1,
  // whose excess e is in [1, stride] (a slab's starts == objects * e).
  check(c->stride_magic_ == slab_detail::stride_magic_for(c->stride_) && stride_excess(c) >= 1 &&
            stride_excess(c) <= c->stride_,
        "stride magic is not floor(2^64 / stride) + 1", c);
  // The mark the pushes write (KmemCache::array_key_).
  check(c->array_key_ == (c->freelist_key_ ^ kInArray), "array key is not the freelist key ^ kInArray", c);
  // free_object's already-free test (looks_free_near) covers every slab.
  check(c->link_span_ == kPageSize << c->order_ && c->min_order_ <= c->order_,
        "link span is not the region of the cache's largest slab", c);
  for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) {
    const CpuArray& none = slab_detail::kNoCpuArrays[cpu].array;
    check(none.out.size() == 0 && none.in.size() == 0 && none.out.slots == nullptr && none.in.slots == nullptr,
          "the empty per-CPU array table was written", &slab_detail::kNoCpuArrays[cpu]);
  }
  // Each CPU's pair (slab_detail::CpuArray): its two stacks are the two
  // halves of its entries, in either order (turns swap them), each within
  // one stack's capacity; a refill fills one stack and a flush takes from
  // one: cpu_batch_ <= stack_limit.
  const uint32_t stack = stack_limit(c);
  if (c->cpu_ != nullptr) {
    check(c->cpu_limit_ % 2 == 0 && c->cpu_batch_ != 0 && c->cpu_batch_ <= stack,
          "per-CPU pair capacity odd, or its batch above one stack's capacity", c);
    for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) {
      const CpuArray& a = cpu_array(c, cpu);
      void* const* e = cpu_entries_of(c, cpu);
      check((a.out.slots == e && a.in.slots == e + stack) || (a.out.slots == e + stack && a.in.slots == e),
            "per-CPU stacks are not the two halves of their CPU's entries", &a);
      check(a.out.size() <= stack && a.in.size() <= stack, "per-CPU stack count above its limit", &a);
      cpu_entries += uint64_t{a.out.size() <= stack ? a.out.size() : 0} + (a.in.size() <= stack ? a.in.size() : 0);
    }
  }
  // The depot: in the arrays' block, within its limit; none without arrays.
  check(c->depot_count_ <= c->depot_limit_ &&
            (c->depot_limit_ == 0 ? c->depot_ == nullptr
                                  : c->cpu_ != nullptr && c->depot_ != nullptr &&
                                        reinterpret_cast<const std::byte*>(c->depot_) > c->cpu_ &&
                                        reinterpret_cast<const std::byte*>(c->depot_ + c->depot_limit_) <=
                                            c->cpu_ + (kPageSize << c->cpu_block_order_)),
        "depot count above its limit, or its entries outside the arrays' block", c);
  // The reserve grows from its base up to reserve_max_ slabs at most.
  check(uint32_t{c->reserve_empty_} + c->reserve_extra_ <=
            (c->reserve_max_ > c->reserve_empty_ ? c->reserve_max_ : c->reserve_empty_),
        "empty-slab reserve grown past its bound", c);
  const uint32_t depot_entries = c->depot_count_ <= c->depot_limit_ ? c->depot_count_ : 0;
  uint64_t slabs = 0, inuse = 0, matched_entries = 0, matched_depot = 0, objects = 0, fallback = 0;
  const struct {
    const slab_detail::SlabList* list;
    uint8_t id;
  } lists[] = {{&c->partial_, kListPartial}, {&c->full_, kListFull}, {&c->empty_, kListEmpty}};
  for (const auto& l : lists) {
    uint64_t on_list = 0;
    const Slab* prev = nullptr;
    for (const Slab* s = l.list->head; s != nullptr && fail.detail == nullptr; s = s->next) {
      ++on_list;
      if (!check(on_list <= c->slab_count_, "slab list longer than the cache's slab count", s))
        break;
      check(s->prev == prev, "slab list back link broken", s);
      prev = s;
      check(s->cache == c, "slab header names another cache", s);
      check(s->cpus == (c->cpu_ != nullptr ? reinterpret_cast<const slab_detail::CpuArrayLine*>(c->cpu_)
                                            : slab_detail::kNoCpuArrays),
            "slab header's per-CPU arrays are not its cache's", s);
      check(s->list == l.id, "slab is on a list its header does not name", s);
      // The slab's own layout: the cache's preferred one or its fallback.
      const uint32_t n = s->objects;
      const bool preferred = s->order == c->order_ && n == c->objs_per_slab_;
      const bool minimum = s->order == c->min_order_ && n == c->min_objs_;
      if (!check(preferred || minimum, "slab order and object count are neither the cache's "
                                       "preferred nor its minimum layout", s))
        break;
      check(s->starts == uint64_t{n} * stride_excess(c), "slab starts != objects * stride excess", s);
      objects += n;
      if (s->order != c->order_) ++fallback;
      const uint64_t block_bytes = kPageSize << s->order;
      // The descriptor agrees with the header.
      const FrameDescriptor* d = pages_->descriptor(to_pfn(block_of(s)));
      if (!check(d != nullptr && d == s->head, "slab block is not managed memory", s)) break;
      check(frame_state(*d) == FrameState::Slab, "slab block's descriptor is not in state Slab", s);
      check(d->order == s->order, "slab block's order differs from its header's", s);
      check(d->owner == c->id_, "slab block's descriptor owner is not the cache id", s);
      check(d->aux == static_cast<uint16_t>(s->inuse), "descriptor in-use count differs", s);
      check(((uintptr_t{d->link_prev} << 32) | d->link_next) == reinterpret_cast<uintptr_t>(s),
            "descriptor does not point at the slab header", s);
      // Every tail frame: state Tail, owner == cache id, links == header.
      for (uint64_t i = 1; i < (uint64_t{1} << s->order) && fail.detail == nullptr; ++i) {
        const FrameDescriptor& t = d[i];
        check(frame_state(t) == FrameState::Tail && t.owner == c->id_ && t.aux == 0 &&
                  slab_detail::header_of(t) == s,
              "slab tail frame's descriptor does not name the cache and header", s);
      }
      // On-slab (bootstrap) blocks start with a guard (slab.cpp, choose_layout).
      const uint64_t guard = c->off_slab_ ? 0 : kSlabHeaderSize;
      const std::byte* block = pages_->to_virt(block_of(s));
      const std::byte* mem = block + guard;
      const uint64_t colour = static_cast<uint64_t>(s->base - mem);
      check(s->base >= mem && colour % c->colour_step_ == 0 &&
                colour / c->colour_step_ < (s->order == c->order_ ? c->colour_count_ : 1u),
            "slab colour offset out of range", s);
      const uint64_t header = c->off_slab_ ? 0 : kSlabHeaderSize;
      check(guard + colour + uint64_t{n} * c->stride_ + header <= block_bytes, "objects overrun the slab",
            s);
      if (!c->off_slab_)
        check(reinterpret_cast<const std::byte*>(s) == block + block_bytes - kSlabHeaderSize,
              "on-slab header is not at the end of its block", s);
      // The freelist: distinct objects of this slab, at object starts.
      uint64_t bits[kMaxObjectsPerSlab / 64] = {};
      uint32_t free_count = 0;
      for (const void* f = s->freelist; f != nullptr; f = free_link_get(c, f)) {
        if (!check(free_count < n, "freelist longer than the slab (a cycle?)", s)) break;
        if (!check(at_object_start(c, s, f), "freelist entry is not an object of this slab", f))
          break;
        const uint32_t i = object_index(c, s, f);
        if (!check(!(bits[i / 64] & (uint64_t{1} << (i % 64))), "object twice on a freelist", f))
          break;
        bits[i / 64] |= uint64_t{1} << (i % 64);
        ++free_count;
      }
      check(s->inuse + free_count == n, "slab in-use count + free objects != objects per slab", s);
      check(l.id == kListFull ? s->inuse == n : l.id == kListEmpty ? s->inuse == 0
                                                                  : s->inuse > 0 && s->inuse < n,
            "slab is on the wrong list for its in-use count", s);
      inuse += s->inuse;
      // Debug caches: every object's state, redzone and poison.
      for (uint32_t i = 0; c->debug_ && fail.detail == nullptr && i < n; ++i) {
        const std::byte* obj = s->base + size_t{i} * c->stride_;
        const Finding f = debug_check_object(c, obj, (bits[i / 64] >> (i % 64)) & 1);
        if (f.code != ErrorCode::Count) {
          fail.code = f.code;
          fail.detail = f.detail;
          fail.address = reinterpret_cast<uintptr_t>(obj);
        }
      }
      // Per-CPU entries in this slab: free, distinct, not on the freelist.
      if (c->cpu_ != nullptr && cpu_entries != 0) {
        const auto lo = reinterpret_cast<uintptr_t>(mem);
        for (unsigned cpu = 0; cpu <= cpu_count_; ++cpu) {
          const CpuArray& a = cpu_array(c, cpu);
          for (const CpuStack<void*>* st : {&a.out, &a.in})
            for (uint32_t k = 0; k < st->size() && k < stack; ++k) {
              const void* e = st->slots[k];
              const auto addr = reinterpret_cast<uintptr_t>(e);
              if (addr < lo || addr - lo >= block_bytes) continue;
              ++matched_entries;
              if (!check(at_object_start(c, s, e), "per-CPU entry is not at an object start", e))
                continue;
              const uint32_t i = object_index(c, s, e);
              check(!(bits[i / 64] & (uint64_t{1} << (i % 64))),
                    "per-CPU entry is also on the freelist, or twice in the arrays", e);
              bits[i / 64] |= uint64_t{1} << (i % 64);
              // Its "in an array" mark (looks_free): a free of it is caught.
              check(decode_slot(c, reinterpret_cast<const uintptr_t*>(c->link_at().slot(e))) == kInArray,
                    "per-CPU entry's link slot does not say it is in an array", e);
            }
        }
      }
      // Depot entries in this slab: likewise, and marked "in the depot"
      // (the slot holds the key: it decodes to its own address, slab.cpp).
      const auto lo = reinterpret_cast<uintptr_t>(mem);
      for (uint32_t k = 0; k < depot_entries; ++k) {
        const void* e = c->depot_[k];
        const auto addr = reinterpret_cast<uintptr_t>(e);
        if (addr < lo || addr - lo >= block_bytes) continue;
        ++matched_depot;
        if (!check(at_object_start(c, s, e), "depot entry is not at an object start", e)) continue;
        const uint32_t i = object_index(c, s, e);
        check(!(bits[i / 64] & (uint64_t{1} << (i % 64))),
              "depot entry is also on the freelist, in an array, or twice in the depot", e);
        bits[i / 64] |= uint64_t{1} << (i % 64);
        const auto* slot = reinterpret_cast<const uintptr_t*>(c->link_at().slot(e));
        check(*slot == c->freelist_key_, "depot entry's link slot does not say it is in the depot", e);
      }
    }
    check(on_list == l.list->count, "slab list count differs from its length", c);
    slabs += on_list;
  }
  check(slabs == c->slab_count_, "slab count differs from the slabs on the lists", c);
  check(objects == c->total_objects_, "cache object count differs from the sum over its slabs", c);
  check(fallback == c->fallback_slabs_, "cache fallback-slab count differs from its slabs", c);
  check(inuse == c->inuse_, "cache in-use count differs from the sum over its slabs", c);
  check(matched_entries == cpu_entries,
        "a per-CPU entry is not an object in a slab of this cache", c);
  check(matched_depot == depot_entries, "a depot entry is not an object in a slab of this cache", c);
  check(cpu_entries + depot_entries <= c->inuse_, "more per-CPU and depot entries than objects in use", c);
  c->node_lock_.unlock();
  platform::irq_restore(irq);
  if (fail.detail != nullptr) fail.cache = c->name_;
  return fail;
}

}  // namespace pf
