// slab_debug.cpp — the checks of debug caches (SLAB_DEBUG or
// SlabConfig::debug): redzones, poison, per-object state and callers,
// encoded freelist links and their repair. Layout and names: slab.hpp.
//
// Invariants of a debug cache's object (checked at allocation, at free and
// by verify()):
//   state == kStateFree      <=> the object is free (on its slab's freelist);
//   bytes [requested, rz_end) == kRedzoneByte while allocated,
//   bytes [size, rz_end)      == kRedzoneByte while free;
//   poisoned caches: bytes [0, size) == kPoisonByte while free.
// Everything here that reads or writes an object's metadata runs under its
// cache's node lock (debug caches have no per-CPU arrays), so a concurrent
// verify() sees whole transitions.
#include "page_alloc.hpp"
#include "slab.hpp"

namespace pf {

namespace {
using slab_detail::kPoisonByte;
using slab_detail::kRedzoneByte;
using slab_detail::kStateAllocated;
using slab_detail::kStateFree;
using slab_detail::Track;

// The first byte of [from, to) that is not `value`, or `to`.
// Eight bytes at a time where aligned: poison checks cover whole objects.
uint32_t first_not(const std::byte* obj, uint32_t from, uint32_t to, unsigned char value) {
  const auto* b = reinterpret_cast<const unsigned char*>(obj);
  uint32_t i = from;
  for (; i < to && (reinterpret_cast<uintptr_t>(b + i) & 7) != 0; ++i)
    if (b[i] != value) return i;
  const uint64_t word = 0x0101010101010101ull * value;
  for (; i + 8 <= to; i += 8) {
    uint64_t w;
    __builtin_memcpy(&w, b + i, 8);
    if (w != word) break;
  }
  for (; i < to; ++i)
    if (b[i] != value) return i;
  return to;
}
void fill(std::byte* obj, uint32_t from, uint32_t to, unsigned char value) {
  if (to > from) __builtin_memset(obj + from, value, to - from);
}
}  // namespace

Track* SlabAllocator::track_of(const KmemCache* c, const void* obj) {
  return reinterpret_cast<Track*>(const_cast<std::byte*>(static_cast<const std::byte*>(obj)) +
                                  c->track_offset_);
}

void SlabAllocator::report_finding(const Finding& f, const KmemCache* c, const void* caller) const {
  if (f.code == ErrorCode::Count) return;
  report_object_error(f.code, f.detail, f.object, c, caller);
}

// A new slab's object: poisoned (unless constructed), redzoned, free.
void SlabAllocator::debug_populate(const KmemCache* c, std::byte* obj) const {
  if (c->poison_) fill(obj, 0, c->object_size_, kPoisonByte);
  fill(obj, c->object_size_, c->redzone_end_, kRedzoneByte);
  *track_of(c, obj) = Track{nullptr, nullptr, c->object_size_, kStateFree};
}

void SlabAllocator::debug_on_alloc_locked(KmemCache* c, void* object, const void* caller,
                                          size_t requested, gfp_t flags, Finding* f) {
  auto* obj = static_cast<std::byte*>(object);
  Track* t = track_of(c, obj);
  if (f->code == ErrorCode::Count) {
    if (c->poison_ && first_not(obj, 0, c->object_size_, kPoisonByte) != c->object_size_)
      *f = {ErrorCode::SlabWriteAfterFree,
            "a free object's poison changed before it was handed out again", obj};
    else if (first_not(obj, c->object_size_, c->redzone_end_, kRedzoneByte) != c->redzone_end_)
      *f = {ErrorCode::SlabRedzoneOverwritten,
            "a free object's redzone was overwritten (found when handing it out)", obj};
  }
  // Whatever was found is repaired by handing the object out freshly laid.
  t->state = kStateAllocated;
  t->alloc_caller = caller;
  t->free_caller = nullptr;
  t->requested = static_cast<uint32_t>(requested);
  if ((flags & __GFP_ZERO) || c->init_on_alloc_) fill(obj, 0, static_cast<uint32_t>(requested), 0);
  fill(obj, static_cast<uint32_t>(requested), c->redzone_end_, kRedzoneByte);
}

// Returns false when the free must be refused (a double free, or metadata
// that no longer says "allocated"); *f says why.
bool SlabAllocator::debug_on_free_locked(KmemCache* c, Slab* s, void* object, const void* caller,
                                         Finding* f) {
  auto* obj = static_cast<std::byte*>(object);
  Track* t = track_of(c, obj);
  if (t->state == kStateFree) {
    *f = s->freelist == obj
             ? Finding{ErrorCode::SlabDoubleFree, "object is already free", obj}
             : Finding{ErrorCode::SlabDelayedDoubleFree,
                       "object is already free (freed earlier, not just now)", obj};
    return false;
  }
  if (t->state != kStateAllocated || t->requested > c->object_size_) {
    *f = {ErrorCode::SlabRedzoneOverwritten,
          "the object's metadata past its redzone was overwritten; free refused", obj};
    return false;
  }
  if (first_not(obj, t->requested, c->redzone_end_, kRedzoneByte) != c->redzone_end_)
    *f = {ErrorCode::SlabRedzoneOverwritten, "bytes past the end of the object were written",
          obj};
  if (c->poison_)
    fill(obj, 0, c->object_size_, kPoisonByte);
  else if (init_on_free_ && c->ctor_ == nullptr)
    fill(obj, 0, c->object_size_, 0);
  fill(obj, c->object_size_, c->redzone_end_, kRedzoneByte);
  t->state = kStateFree;
  t->free_caller = caller;
  return true;
}

// The freelist from scratch: every object whose state says free, in
// address order. The in-use counts follow what was found.
void SlabAllocator::rebuild_freelist_locked(KmemCache* c, Slab* s) {
  void* head = nullptr;
  uint32_t free_count = 0;
  for (uint32_t i = s->objects; i-- > 0;) {
    std::byte* obj = s->base + size_t{i} * c->stride_;
    if (track_of(c, obj)->state != kStateFree) continue;
    free_link_set(c, obj, head);
    head = obj;
    ++free_count;
  }
  s->freelist = head;
  const uint32_t inuse = s->objects - free_count;
  c->inuse_ = c->inuse_ - s->inuse + inuse;
  s->inuse = inuse;
  s->head->aux = static_cast<uint16_t>(inuse);
  list_move_locked(c, s,
                   inuse == s->objects ? slab_detail::kListFull
                   : inuse == 0               ? slab_detail::kListEmpty
                                              : slab_detail::kListPartial);
}

void SlabAllocator::debug_resize(KmemCache* c, void* object, size_t new_size) {
  auto* obj = static_cast<std::byte*>(object);
  LockGuard g(c->node_lock_);
  Track* t = track_of(c, obj);
  if (t->state != kStateAllocated) return;
  t->requested = static_cast<uint32_t>(new_size);
  fill(obj, static_cast<uint32_t>(new_size), c->redzone_end_, kRedzoneByte);
}

// One object of a debug cache, for verify(): its state matches `free` and
// its redzone (and poison) are intact.
SlabAllocator::Finding SlabAllocator::debug_check_object(const KmemCache* c, const void* object,
                                                         bool free) const {
  const auto* obj = static_cast<const std::byte*>(object);
  const Track* t = track_of(c, obj);
  if (t->state != (free ? kStateFree : kStateAllocated))
    return {ErrorCode::VerifyFailed,
            free ? "object on a freelist is not marked free" : "object in use is not marked allocated",
            obj};
  const uint32_t from = free ? c->object_size_ : t->requested;
  if (from > c->object_size_ ||
      first_not(obj, from, c->redzone_end_, kRedzoneByte) != c->redzone_end_)
    return {ErrorCode::SlabRedzoneOverwritten, "redzone overwritten (found by verify)", obj};
  if (free && c->poison_ && first_not(obj, 0, c->object_size_, kPoisonByte) != c->object_size_)
    return {ErrorCode::SlabWriteAfterFree, "a free object was written (found by verify)", obj};
  return {};
}

}  // namespace pf
