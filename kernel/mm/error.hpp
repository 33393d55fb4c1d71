// error.hpp — the error model: every misuse the metadata can see has a name.
//
// One handler for the whole core. report() formats one line ("pfalloc:
// <name>: <detail> addr=... frame=... cache=... caller=..."), sends it to the
// log hook and then calls the handler. The default handler is fatal: it
// hands the line to pfalloc_hook_fatal only (which prints it), not to the
// log hook first, so a fatal report shows once. A test or the kernel's test mode installs one that
// records and returns; every caller of report() then leaves the allocator
// exactly as it was (the bad request is refused, nothing is lost).
//
// Warnings (a memory-map entry dropped, for instance) are logged and counted
// but never reach the handler: they are bad input handled, not misuse.
#pragma once

#include <cstdint>

#include "types.hpp"

namespace pf {

#define PF_ERROR_CODES(X)                                                          \
  /* pages: always detected */                                                     \
  X(PageDoubleFree, "page-double-free")                                            \
  X(PageOutsideManaged, "page-outside-managed-memory")                             \
  X(PageReserved, "page-reserved-frame")                                           \
  X(PageMisaligned, "page-misaligned-for-order")                                   \
  X(PageWrongOrder, "page-wrong-order")                                            \
  X(PageTailFrame, "page-tail-frame")                                              \
  X(PageBadOrder, "page-order-out-of-range")                                       \
  X(ContigBadFree, "contig-bad-free")                                              \
  X(PageInSlab, "page-in-slab")                                                    \
  X(PageInKmallocLarge, "page-in-kmalloc-large")                                   \
  X(PageSlabMetadata, "page-is-slab-metadata")                                     \
  /* objects: always detected */                                                   \
  X(SlabDoubleFree, "slab-double-free")                                            \
  X(SlabNotObjectStart, "slab-not-object-start")                                   \
  X(SlabNotSlabPage, "slab-not-a-slab-page")                                       \
  X(SlabWrongCache, "slab-wrong-cache")                                            \
  X(SlabCacheHandle, "slab-cache-handle")                                          \
  X(SlabInternalObject, "slab-internal-object")                                    \
  X(SlabWrongSize, "slab-wrong-size")                                              \
  /* objects: debug mode */                                                        \
  X(SlabDelayedDoubleFree, "slab-delayed-double-free")                             \
  X(SlabRedzoneOverwritten, "slab-redzone-overwritten")                            \
  X(SlabWriteAfterFree, "slab-write-after-free")                                   \
  X(SlabFreelistCorrupted, "slab-freelist-corrupted")                              \
  X(CacheDestroyedWithLiveObjects, "cache-destroyed-with-live-objects")            \
  X(Leak, "leak")                                                                  \
  /* memory map intake */                                                          \
  X(MapEntryWraps, "map-entry-wraps")                                              \
  X(MapEntryBeyondPhysLimit, "map-entry-beyond-phys-limit")                        \
  X(MapCapacityExceeded, "map-capacity-exceeded")                                  \
  X(MapBadInput, "map-bad-input")                                                  \
  /* structural self-check */                                                      \
  X(VerifyFailed, "verify-failed")                                                 \
  X(InvalidArgument, "invalid-argument")                                           \
  /* allocation flags outside pfalloc.h's __GFP_* or two zone limits at once */     \
  X(GfpInvalid, "gfp-invalid-flags")                                               \
  /* memory hot-add (pf_add_memory): refused with a pf_status, logged as a warning */ \
  X(HotplugNotInitialised, "hotplug-not-initialised")                              \
  X(HotplugMisaligned, "hotplug-misaligned")                                       \
  X(HotplugTooSmall, "hotplug-too-small")                                          \
  X(HotplugBeyondPhysLimit, "hotplug-beyond-phys-limit")                           \
  X(HotplugOverlap, "hotplug-overlap")                                             \
  X(HotplugBelowTop, "hotplug-below-managed-top")                                  \
  X(HotplugCapacity, "hotplug-capacity")

enum class ErrorCode : uint8_t {
#define PF_X(id, name) id,
  PF_ERROR_CODES(PF_X)
#undef PF_X
      Count
};

const char* error_name(ErrorCode code);

struct ErrorReport {
  ErrorCode code{};
  const char* detail = nullptr;   // what happened, in words
  uint64_t address = 0;           // the address involved (phys or virt), 0 if none
  bool address_is_virtual = false;
  uint64_t pfn = ~uint64_t{0};    // the frame involved, ~0 if none
  const char* cache = nullptr;    // the kmem_cache involved, if any
  const void* caller = nullptr;   // return address of the API call, if known
  // A formatted copy of the message, filled in by report().
  const char* message = nullptr;
};

using ErrorHandler = void (*)(const ErrorReport& report, void* context);

// Installs `handler` (nullptr restores the fatal default); returns the old one.
struct ErrorHandlerSlot {
  ErrorHandler handler;
  void* context;
};
ErrorHandlerSlot set_error_handler(ErrorHandler handler, void* context);

// Formats, logs, and hands the report to the installed handler. Returns only
// if the handler does; the caller must then refuse the operation cleanly.
void report(ErrorReport r);

// A bad input handled (logged, counted, never fatal).
void warn(ErrorCode code, const char* detail, uint64_t a = 0, uint64_t b = 0);
uint64_t warning_count();

}  // namespace pf

// The return address of the API function this expands in.
#define PF_CALLER __builtin_extract_return_addr(__builtin_return_address(0))
