// kmalloc.cpp — the kmalloc family over the size-class caches, and large
// requests as whole buddy blocks.
//
// Owns: the head descriptors of large blocks while they are handed out
// (state Allocated, owner == kOwnerKmallocLarge; the buddy clears it when the
// block is freed). Invariant: a pointer kfree accepts is either the start of
// an object in a slab of some cache, or the first byte of a block whose head
// descriptor carries that owner tag. Every other pointer is reported and
// refused. No locks of its own (see slab.hpp for the caches' lock order).
#include "page_alloc.hpp"
#include "slab.hpp"

namespace pf {

namespace {
constexpr gfp_t kZoneFlags = __GFP_DMA | __GFP_DMA32;
}  // namespace

void* SlabAllocator::kmalloc_large(size_t size, size_t align, gfp_t flags) {
  const unsigned large_order = kmalloc_large_order(size, align);
  if (large_order == kKmallocOrderTooLarge) return nullptr;
  if (__builtin_expect(fail_at_.load(std::memory_order_relaxed) != 0, 0) && fail_injected())
    return nullptr;
  const Order order{large_order};
  const PhysAddr block = pages_->alloc_pages(order, flags);
  if (block.is_null()) return kmalloc_large_retry(size, align, flags);
  descriptor_of(to_pfn(block))->owner = kOwnerKmallocLarge;
  return pages_->to_virt<void>(block);
}

// Slab classes come from any zone: a zone-limited request is served whole
// pages from that zone instead (rare in practice; correct, if wasteful).
// kmalloc's fast path is inline (slab.hpp); here: size 0, large sizes and
// zone-limited requests.
void* SlabAllocator::kmalloc_slow(size_t size, gfp_t flags, const void* caller) {
  if (!gfp_valid(flags)) {
    report_bad_gfp(flags, "kmalloc", caller != nullptr ? caller : PF_CALLER);
    return nullptr;
  }
  if (size == 0) return nullptr;
  return kmalloc_large(size, kPageSize, flags);
}

// The arguments of the aligned calls, judged before anything else (so a
// krealloc_aligned refusal leaves p untouched): `align` a power of two, the
// flags gfp_valid. False: reported, naming `call`.
static bool aligned_args_ok(size_t align, gfp_t flags, const char* call, const void* caller) {
  if (align == 0 || !is_power_of_two(align)) {
    char detail[96];
    TextBuffer t(detail, sizeof detail);
    t.str(call).str(": alignment is not a power of two");
    report({.code = ErrorCode::InvalidArgument, .detail = t.c_str(), .address = align, .caller = caller});
    return false;
  }
  if (!gfp_valid(flags)) {
    report_bad_gfp(flags, call, caller);
    return false;
  }
  return true;
}

void* SlabAllocator::kmalloc_aligned(size_t size, size_t align, gfp_t flags, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (!aligned_args_ok(align, flags, "kmalloc_aligned", caller)) return nullptr;
  if (size == 0) return nullptr;
  if ((flags & kZoneFlags) == 0)
    if (KmemCache* c = kmalloc_cache_for_aligned(size, align)) return alloc_object(c, flags, caller, size);
  return kmalloc_large(size, align > kPageSize ? align : kPageSize, flags);
}

void* SlabAllocator::kcalloc(size_t n, size_t size, gfp_t flags, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (size != 0 && n > ~size_t{0} / size) {
    // The flags are judged even when n * size overflows (kmalloc judges
    // them on every other path): misuse is named, not hidden by the null.
    if (!gfp_valid(flags)) report_bad_gfp(flags, "kcalloc", caller);
    return nullptr;
  }
  return kmalloc(n * size, flags | __GFP_ZERO, caller);
}

// kfree's fast path is inline (slab.hpp): a pointer whose own frame heads
// a slab. Here: objects in the tail frames of bigger slabs, large blocks,
// and every bad pointer.
void SlabAllocator::kfree_slow(const void* p, const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (report_uninitialised("kfree", p, caller)) return;
  void* obj = const_cast<void*>(p);
  const Located where = locate(p);
  if (where.target == Target::SlabObject) {
    free_object(where.slab->cache, where.slab, obj, caller);
    return;
  }
  if (where.target == Target::LargeBlock) {
    if (p != pages_->to_virt<void>(to_phys(where.head_pfn))) {
      report_object_error(ErrorCode::SlabNotObjectStart,
                          "kfree: pointer is inside a large kmalloc block, not at its start", p,
                          nullptr, caller);
      return;
    }
    where.head->owner = 0;
    pages_->free_pages(to_phys(where.head_pfn), Order{frame_order(*where.head)});
    return;
  }
  report_bad_pointer(where, p, "kfree", caller);
}

// kfree_sized's misses (slab.hpp): p is not an object of size's kmalloc
// class (or size is none). Misuse kfree would name is named first, as kfree
// names it; then a size above ksize(p) is refused; anything else is freed
// as kfree frees it.
void SlabAllocator::kfree_sized_slow(const void* p, size_t size, const void* caller) {
  if (p == nullptr) return;
  if (caller == nullptr) caller = PF_CALLER;
  if (report_uninitialised("kfree_sized", p, caller)) return;
  void* obj = const_cast<void*>(p);
  const Located where = locate(p);
  size_t have = 0;
  if (where.target == Target::SlabObject) {
    Slab* s = where.slab;
    KmemCache* c = s->cache;
    // The allocator's own records, interior pointers and objects already
    // free: free_object's slow path names them (and frees nothing).
    if (c == &cache_cache_ || c == &slab_cache_ || !at_object_start(c, s, p)) {
      free_object(c, s, obj, caller);
      return;
    }
    if (c->debug_) {
      const slab_detail::Track* t = track_of(c, p);
      if (t->state != slab_detail::kStateAllocated) {
        free_object(c, s, obj, caller);
        return;
      }
      have = t->requested;
    } else {
      if (looks_free(c, s, obj)) {
        free_object(c, s, obj, caller);
        return;
      }
      have = c->object_size_;
    }
    if (__builtin_expect(size <= have, 1)) {
      free_object(c, s, obj, caller);
      return;
    }
  } else if (where.target == Target::LargeBlock &&
             p == pages_->to_virt<void>(to_phys(where.head_pfn)) &&
             size > Order{frame_order(*where.head)}.bytes()) {
    have = Order{frame_order(*where.head)}.bytes();
  } else {
    kfree_slow(p, caller);  // a large block, or a pointer kfree refuses
    return;
  }
  char detail[112];
  TextBuffer t(detail, sizeof detail);
  t.str("kfree_sized: size ").dec(size).str(" is above the object's ").dec(have).str(" bytes");
  report_object_error(ErrorCode::SlabWrongSize, detail, p,
                      where.target == Target::SlabObject ? where.slab->cache : nullptr, caller);
}

// Unbound (before init, after a failed one or a teardown) the frees' fast
// paths find no slab (lookup_ is the unbound table) and end here, before
// anything reads pages_ (locate, the reports' frame number) or a cache:
// refused by name, nothing freed. (No large block of this layer exists
// either.)
bool SlabAllocator::report_uninitialised(const char* op, const void* p, const void* caller) const {
  if (__builtin_expect(pages_ != nullptr, 1)) return false;
  char detail[96];
  TextBuffer t(detail, sizeof detail);
  t.str(op).str(": the slab allocator is not initialised (pf_init has not succeeded)");
  report_object_error(ErrorCode::InvalidArgument, t.c_str(), p, nullptr, caller);
  return true;
}

bool SlabAllocator::object_is_free(const KmemCache* c, const Slab* s, const void* p) const {
  if (c->debug_) return track_of(c, p)->state == slab_detail::kStateFree;
  void* obj = const_cast<void*>(p);
  if (!looks_free(c, s, obj)) return false;
  // Make sure, as free_slow does: in an array, in the depot (the slot's own
  // address), or on the freelist.
  const uintptr_t* slot = link_slot(c, obj);
  const uintptr_t v = decode_slot(c, slot);
  if (v == kInArray || v == reinterpret_cast<uintptr_t>(slot)) return true;
  LockGuard g(c->node_lock_);
  return on_freelist_locked(c, s, obj);
}

size_t SlabAllocator::usable_size(const void* p, const char* op, const void* caller) const {
  // Before init there are no descriptors to look p up in (it was a crash).
  if (pages_ == nullptr) {
    char detail[96];
    TextBuffer t(detail, sizeof detail);
    t.str(op).str(": the slab allocator is not initialised");
    report_object_error(ErrorCode::InvalidArgument, t.c_str(), p, nullptr, caller);
    return 0;
  }
  const Located where = locate(p);
  if (where.target == Target::SlabObject) {
    const KmemCache* c = where.slab->cache;
    if (at_object_start(c, where.slab, p)) {
      // The allocator's own records are no caller's objects (as kfree says).
      if (c == &cache_cache_ || c == &slab_cache_) {
        report_object_error(c == &cache_cache_ ? ErrorCode::SlabCacheHandle : ErrorCode::SlabInternalObject,
                            c == &cache_cache_ ? "pointer is a kmem_cache handle, not an object"
                                               : "pointer is the allocator's own slab header",
                            p, nullptr, caller);
        return 0;
      }
      // A freed object: its size would let krealloc hand it back as is
      // (a shrink does not move), resurrecting memory the cache will give
      // to someone else; refused as a second kfree would be.
      if (object_is_free(c, where.slab, p)) {
        char detail[112];
        TextBuffer t(detail, sizeof detail);
        t.str(op).str(": object is already free (in a per-CPU array, the depot or on its freelist)");
        report_object_error(ErrorCode::SlabDoubleFree, detail, p, c, caller);
        return 0;
      }
      return c->debug_ ? track_of(c, p)->requested : c->object_size_;
    }
    report_object_error(ErrorCode::SlabNotObjectStart,
                        "pointer is inside a slab but not at the start of an object", p, c, caller);
    return 0;
  }
  if (where.target == Target::LargeBlock) {
    if (p == pages_->to_virt<void>(to_phys(where.head_pfn))) return Order{frame_order(*where.head)}.bytes();
    report_object_error(ErrorCode::SlabNotObjectStart,
                        "pointer is inside a large kmalloc block, not at its start", p, nullptr,
                        caller);
    return 0;
  }
  report_bad_pointer(where, p, op, caller);
  return 0;
}

size_t SlabAllocator::ksize(const void* p, const void* caller) const {
  if (p == nullptr) return 0;
  return usable_size(p, "ksize", caller != nullptr ? caller : PF_CALLER);
}

void* SlabAllocator::krealloc(void* p, size_t new_size, gfp_t flags, const void* caller) {
  return krealloc_aligned(p, new_size, 8, flags, caller != nullptr ? caller : PF_CALLER);
}

void* SlabAllocator::krealloc_aligned(void* p, size_t new_size, size_t align, gfp_t flags,
                                      const void* caller) {
  if (caller == nullptr) caller = PF_CALLER;
  if (p == nullptr) return kmalloc_aligned(new_size, align, flags, caller);
  // Bad arguments are refused before p is looked at, so p stays untouched
  // (an alignment that is no power of two once let a shrink in place pass,
  // and krealloc(p, 0, bad) freed p).
  if (!aligned_args_ok(align, flags, "krealloc", caller)) return nullptr;
  // From a constructor the free of p would be refused after the copy: p
  // would stay allocated behind the caller's back. Refused whole.
  if (called_from_ctor("krealloc", caller)) return nullptr;
  if (pages_ == nullptr) {  // before init: reported by usable_size, nothing freed
    usable_size(p, "krealloc", caller);
    return nullptr;
  }
  if (new_size == 0) {
    kfree(p, caller);
    return nullptr;
  }
  const size_t have = usable_size(p, "krealloc", caller);
  if (have == 0) return nullptr;  // reported; p untouched
  const bool aligned = (reinterpret_cast<uintptr_t>(p) & (align - 1)) == 0;
  // A debug cache's ksize is the requested size, but the object can grow
  // in place to its full size (the redzone moves with it).
  KmemCache* debug_cache = cache_of(p);
  if (debug_cache != nullptr && !debug_cache->debug_) debug_cache = nullptr;
  const size_t capacity = debug_cache != nullptr ? debug_cache->object_size_ : have;
  // Shrinking (or growing within the object) never moves, as in Linux: the
  // bytes stay where they are and a shrink cannot fail.
  if (new_size <= capacity && aligned) {
    if (debug_cache != nullptr) debug_resize(debug_cache, p, new_size);
    return p;
  }
  void* q = kmalloc_aligned(new_size, align, flags, caller);
  if (q == nullptr) return nullptr;
  __builtin_memcpy(q, p, have < new_size ? have : new_size);
  kfree(p, caller);
  return q;
}

}  // namespace pf
