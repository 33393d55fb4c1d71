/* pfalloc.h — the public API of pfalloc, usable from C and C++.
 *
 * Owns: the names an embedding kernel calls (alloc_pages, free_pages,
 * kmalloc, kmem_cache_*, ...) and the short list of hooks it implements
 * (pfalloc_hook_*). Everything here works on one global allocator instance
 * set up by pf_init(); the C++ classes behind it (in kernel/mm) can also
 * be instantiated directly, as the hosted tests do.
 *
 * Conventions: physical addresses are pf_phys_t; 0 is never a valid frame
 * (frame 0 is always reserved), so 0 means "no memory". Out of memory is a
 * null result, never a crash. Misuse (double free, foreign pointer, ...) is
 * reported through one error handler with a named error; by default that is
 * fatal (pfalloc_hook_fatal).
 *
 * Per-CPU fast paths (alloc_pages/free_pages of orders 0..3, kmalloc/kfree,
 * kfree_sized, kmem_cache_alloc/free) take no lock and execute no atomic read-modify-write:
 * the caller owns its CPU's caches (interrupts masked on that CPU; see
 * kernel/mm/cpu_cache.hpp for the protocol). Lock order of the slow paths,
 * outermost first: list of caches -> per-CPU object-cache gates -> a cache's
 * node lock -> memory hot-add lock -> per-CPU page-cache gates -> zone lock. The hooks are called
 * with allocator locks held and must not call back into the allocator.
 */
#ifndef PFALLOC_H
#define PFALLOC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef uint64_t pf_phys_t;
typedef unsigned int gfp_t;

/* ---- Allocation flags (Linux's GFP_ vocabulary) ------------------------- */
/* Zone limit: at most one of these; none means any zone (Normal first). */
#define __GFP_DMA        0x01u /* frames below 16 MiB */
#define __GFP_DMA32      0x02u /* frames below 4 GiB */
#define __GFP_ZERO       0x04u /* zero the memory before returning it */
#define __GFP_THISZONE   0x08u /* do not fall back to a lower zone */
#define __GFP_NOWARN     0x10u /* no log line when the request fails */
#define __GFP_NORETRY    0x20u /* fail at once rather than drain every CPU's page
                                  cache first (a try with a cheaper fallback);
                                  implies __GFP_NORECLAIM */
#define __GFP_NORECLAIM  0x40u /* fail rather than reclaim from the slab caches
                                  (see "Out of memory" below) */
/* Out of memory: before an allocation says no, the page layer drains every
 * CPU's page cache (unless __GFP_NORETRY). If that is not enough and the
 * flags allow it, the call then reclaims what the slab layer keeps for speed
 * (every per-CPU object array, depot and empty slab, as pf_reclaim) and runs
 * once more; only a failure for lack of memory is retried, never a refused
 * (misused) call, and none while fault injection is armed. Reclaim stops
 * every other CPU's caches and calls pfalloc_hook_sync_cpus, so it must not
 * run in an interrupt handler or with interrupts masked: allocate there with
 * GFP_ATOMIC (or GFP_NOWAIT). The allocator never sleeps either way. */
/* Flags with a bit outside the __GFP_* above, or with __GFP_DMA and
 * __GFP_DMA32 together (two zone limits), are misuse: reported as
 * gfp-invalid-flags, null result (0 from the bulk calls), nothing allocated.
 * Judged by every call that takes flags, except where a per-CPU fast path
 * serves the request (alloc_pages of orders 0..3, kmem_cache_alloc, from a
 * warm cache): that test would cost the fast path, so a bad flag is caught
 * there only when the call takes its slow path. */
#define GFP_KERNEL       0x00u             /* may reclaim */
#define GFP_ATOMIC       __GFP_NORECLAIM   /* interrupt handlers, interrupts masked */
#define GFP_NOWAIT       __GFP_NORECLAIM
#define GFP_DMA          __GFP_DMA
#define GFP_DMA32        __GFP_DMA32

/* ---- Memory map intake --------------------------------------------------- */
enum pf_region_type {
  PF_REGION_USABLE = 1,
  PF_REGION_RESERVED = 2,
  PF_REGION_ACPI_RECLAIMABLE = 3,
  PF_REGION_ACPI_NVS = 4,
  PF_REGION_BAD = 5,
  /* Memory the boot loader used; usable once the kernel is done with it. */
  PF_REGION_BOOTLOADER_RECLAIMABLE = 6,
  /* Kernel image, boot info, modules: reserved on the kernel's behalf. */
  PF_REGION_KERNEL = 7
};

struct pf_region {
  uint64_t base;   /* bytes, any alignment */
  uint64_t length; /* bytes; 0 entries are skipped */
  uint32_t type;   /* enum pf_region_type; anything else counts as reserved */
};

/* In C++ the optional fields default to 0, so an initialiser naming only the
 * fields it sets ({.direct_map_offset = ..., .cpu_count = 4}, as README shows)
 * draws no -Wmissing-field-initializers from g++ -Wextra, as it draws none in
 * C; the two fields every caller must set have no default, so forgetting one
 * of them still warns. The struct stays an aggregate with C's layout (from
 * C++14 on: in C++11 default member initialisers would end that). */
#if defined(__cplusplus) && __cplusplus >= 201402L
#define PF_CONFIG_DEFAULT_0 = 0
#else
#define PF_CONFIG_DEFAULT_0
#endif
struct pf_config {
  /* Physical memory is reached at phys + direct_map_offset: a multiple of
   * 4096, with managed memory's addresses (mod 2^64) neither wrapping past
   * 2^64 nor reaching 0; else pf_init refuses it (PF_ERR_BAD_CONFIG). */
  uintptr_t direct_map_offset;
  /* Frames below this address are never managed (default: 1 MiB). */
  uint64_t low_reserved_end PF_CONFIG_DEFAULT_0;
  /* How many CPUs will call in (1..64; 0 counts as 1). */
  unsigned int cpu_count;
  /* Hardening options; 0 (a zeroed config) is the default. */
  unsigned int slab_debug PF_CONFIG_DEFAULT_0;    /* nonzero: SLAB_DEBUG for every cache, kmalloc's too */
  unsigned int init_on_alloc PF_CONFIG_DEFAULT_0; /* nonzero: objects are zeroed as they are handed out */
  unsigned int init_on_free PF_CONFIG_DEFAULT_0;  /* nonzero: objects are wiped as they are freed */
  unsigned int slab_random PF_CONFIG_DEFAULT_0;   /* nonzero: SLAB_FREELIST_RANDOM for every cache */
  /* Seed of the per-cache secrets that encode free-list links; pass
   * something unpredictable (the TSC at boot); 0: a built-in constant. */
  uint64_t random_seed PF_CONFIG_DEFAULT_0;
};
#undef PF_CONFIG_DEFAULT_0

/* Takes the firmware map and extra reserved ranges (kernel image, boot info,
 * modules, ...), builds the frame descriptors inside usable memory and frees
 * everything else to the buddy. Returns 0, or a negative pf_status; after a
 * failure nothing is set up and pf_init may be called again.
 * Before it succeeds: page allocations give 0, kmalloc / kmem_cache_create /
 * kmem_cache_alloc / ksize / krealloc, and kfree / kfree_sized /
 * kmem_cache_free of a non-null pointer, are refused by name
 * (invalid-argument; nothing is freed, neither the pointer nor a
 * kmem_cache_free handle is read), pf_reclaim, pf_verify and the
 * introspection calls answer with nothing. */
int pf_init(const struct pf_config* config,
            const struct pf_region* regions, size_t region_count,
            const struct pf_region* reserved, size_t reserved_count);

/* ---- Pages ---------------------------------------------------------------- */
/* 2^order contiguous, naturally aligned frames, or 0. */
pf_phys_t alloc_pages(unsigned int order, gfp_t flags);
void free_pages(pf_phys_t phys, unsigned int order);
/* Fills pages[0..n) with blocks of 2^order frames; returns n, which is below
 * count only when memory runs out (the n blocks are still the caller's). */
size_t alloc_pages_bulk(unsigned int order, gfp_t flags, size_t count, pf_phys_t* pages);

/* n frames (n >= 1, need not be a power of two) starting at a multiple of
 * `align` bytes (a power of two >= 4096, or 0 for 4096), not crossing a
 * multiple of `boundary` bytes (a power of two, or 0 for none), and ending at
 * or below `max_addr` (0 for no limit). Returns 0 when no such range is free. */
pf_phys_t alloc_contig(size_t frame_count, uint64_t align, uint64_t boundary,
                       uint64_t max_addr, gfp_t flags);
void free_contig(pf_phys_t phys, size_t frame_count);

/* Memory the allocator manages but keeps reserved until the kernel is done
 * with it goes back to the buddy, one class at a time:
 *   PF_REGION_BOOTLOADER_RECLAIMABLE  loader code and data, the boot
 *       information (call once nothing reads it any more), an AP trampoline;
 *   PF_REGION_ACPI_RECLAIMABLE        the ACPI tables (once they are read).
 * Returns the frames released; a second call for a class returns 0. Any
 * other type is misuse: reported (invalid-argument), nothing released, 0. */
size_t pf_release_reserved(unsigned int region_type);

/* Memory hotplug: adds [base, base + bytes) as usable memory to the running
 * allocator. Its descriptors (16 bytes per frame), a new lookup table (one
 * frame) and, when the range opens a zone that had no memory, that zone's
 * per-CPU cache slots are placed in the range's own first frames (reserved,
 * reason "hot-add metadata"); every other frame goes to the buddy of its zone.
 * Nothing else of the range is touched. Rules: page-aligned; the range lies
 * above every managed range (holes below managed memory are not supported)
 * and overlaps no non-usable entry of the pf_init map nor a range pf_init
 * was given as reserved (it may lie below one, e.g. RAM under an MMIO window
 * at the top); at most 2^52, its direct-map addresses not wrapping. Each call
 * takes one slot of a table of 128 (more if it crosses 16 MiB or 4 GiB).
 * Blocks and alloc_contig allocations never span two added ranges, even
 * adjacent ones. Safe while other CPUs allocate and free; calls are
 * serialised; not from interrupt context. Returns PF_OK or a PF_ERR_*
 * code (nothing changed on error). */
int pf_add_memory(pf_phys_t base, uint64_t bytes);

/* Fork support, for pthread_atfork(prepare, parent, child): prepare takes
 * every allocator lock in the documented order (list of caches, every CPU's
 * object-cache gate, every cache's node lock, the hot-add lock, every CPU's
 * page-cache gate, every zone lock) and stops every CPU's fast paths, so no
 * operation is half-done when the process is copied; parent and child
 * release them. The core keeps no per-thread state: every CPU slot's caches
 * survive intact in the child and serve whichever thread next runs as that
 * CPU (pfalloc_hook_cpu_id). Between prepare and parent/child the calling
 * thread must not allocate or free (it would wait for itself); a second
 * pf_fork_prepare on the CPU that holds the locks (two atfork registrations)
 * is refused by name (invalid-argument) instead, and so are, on that CPU,
 * the calls that are no per-CPU fast path: the bulk and contig calls,
 * pf_release_reserved, pf_add_memory (PF_ERR_BAD_CONFIG), pf_drain_pages,
 * pf_reclaim, kmem_cache_create/destroy/shrink, pf_format_slabinfo and
 * pf_verify (-1): null result, nothing done. No-ops before pf_init. */
void pf_fork_prepare(void);
void pf_fork_parent(void);
void pf_fork_child(void);

/* Return every per-CPU cached page to the buddy (all CPUs). */
void pf_drain_pages(void);
/* Empty every per-CPU object and page cache and give every empty slab back
 * to the buddy. Returns the frames the slab layer released. A failing
 * allocation that may reclaim (GFP_KERNEL) does this itself before it says
 * no; call it to give memory back ahead of need, or from a context where
 * allocations use GFP_ATOMIC. Not from an interrupt handler. */
size_t pf_reclaim(void);

/* ---- Objects (the slab layer) ---------------------------------------------- */
struct kmem_cache;

#define SLAB_HWCACHE_ALIGN 0x1u /* align objects to a cache line */
#define SLAB_NO_COLOUR     0x2u /* no slab colouring */
#define SLAB_DEBUG         0x4u /* redzones, poisoning for this cache */
#define SLAB_FREELIST_RANDOM 0x8u /* each new slab's objects handed out in a random order */

/* `ctor` runs once per object as a slab is populated (not on each
 * allocation), with this CPU's object caches locked and interrupts masked:
 * it must not call the slab layer. A call that needs those caches or comes
 * before them in the lock order (kmalloc up to 8 KiB, kfree of such an
 * object, krealloc, kmem_cache_alloc/free and the bulk calls,
 * kmem_cache_create/shrink/destroy, pf_reclaim, pf_verify,
 * pf_format_slabinfo), made on the CPU running the constructor, is refused
 * by name (invalid-argument: null, 0, nothing freed) instead of waiting for
 * the lock its own CPU holds; a caller without a CPU (PF_NO_CPU) is not
 * checked. Page calls (alloc_pages, free_pages, ...) are allowed; a failing
 * one does not reclaim. */
struct kmem_cache* kmem_cache_create(const char* name, size_t size, size_t align,
                                     unsigned int flags, void (*ctor)(void*));
void* kmem_cache_alloc(struct kmem_cache* cache, gfp_t flags);
void kmem_cache_free(struct kmem_cache* cache, void* object);
/* All or nothing, as Linux: returns count, or 0 with nothing allocated. */
int kmem_cache_alloc_bulk(struct kmem_cache* cache, gfp_t flags, size_t count, void** objects);
void kmem_cache_free_bulk(struct kmem_cache* cache, size_t count, void** objects);
/* Returns the number of live objects it found (0 on a clean destroy); live
 * objects are reported, with their addresses, through the log hook.
 * A handle that is no live cache (destroyed already, or never a cache) is
 * refused by name (invalid-argument) by kmem_cache_destroy, _shrink, _free,
 * the bulk calls, and kmem_cache_alloc of a destroyed cache; so are the
 * bulk calls' null arrays and a kmem_cache_alloc_bulk count above INT_MAX.
 * (kmem_cache_alloc reads a handle that never was a cache unchecked.)
 * Two kmem_cache_destroy calls of one cache racing on two CPUs: one
 * destroys it, the other is refused by name (invalid-argument); so is a
 * kmem_cache_shrink that comes while its cache is being destroyed (one
 * already under way is waited for). kmem_cache_alloc/free and the bulk
 * calls racing a destroy of their own cache are not checked. */
size_t kmem_cache_destroy(struct kmem_cache* cache);
/* Gives every empty slab back to the buddy; returns frames released. */
size_t kmem_cache_shrink(struct kmem_cache* cache);

/* kmalloc size classes run from 8 bytes to 8 KiB; a power-of-two size is
 * aligned to itself (up to 4096), every other size to 8 bytes at least.
 * Larger requests are whole blocks from the buddy, page aligned. */
void* kmalloc(size_t size, gfp_t flags);
void* kzalloc(size_t size, gfp_t flags);
void* kcalloc(size_t n, size_t size, gfp_t flags); /* 0 on n*size overflow (bad flags still named) */
void* krealloc(void* p, size_t new_size, gfp_t flags);
void kfree(const void* p); /* kfree(NULL) does nothing */
/* kfree with the size the caller asked kmalloc/kzalloc/kcalloc/krealloc for
 * (C23's free_sized): any size of the object's size class finds its cache
 * without a lookup, the faster free. kfree_sized(NULL, n) does nothing. A
 * size of another class (kmalloc_aligned objects, blocks above 8 KiB, size
 * 0, an object krealloc shrank in place) is still freed as kfree frees it
 * when size <= ksize(p); above ksize(p) it is misuse: slab-wrong-size,
 * nothing freed. Every misuse kfree names is named alike. With slab_debug,
 * ksize is the requested size. */
void kfree_sized(const void* p, size_t size);
/* The usable size of a live object or large block; anything else (a freed
 * object, an interior pointer, a kmem_cache handle, ...) is reported by
 * name as kfree would name it, and gives 0 (krealloc of it: NULL, nothing
 * freed). */
size_t ksize(const void* p);

/* ---- Introspection --------------------------------------------------------- */
struct pf_counters {
  uint64_t managed_frames;  /* frames the allocator owns (free or allocated) */
  uint64_t free_frames;     /* in the buddy or in per-CPU caches */
  uint64_t reserved_frames; /* usable RAM kept out: descriptors, boot data */
};
/* A null `out` (or a null buffer with a nonzero size below) is refused
 * (invalid-argument), nothing written, 0. */
void pf_get_counters(struct pf_counters* out);
/* Text in the layout of /proc/buddyinfo and /proc/slabinfo; returns the
 * length written (NUL-terminated, truncated to fit; size 0: nothing). */
size_t pf_format_buddyinfo(char* buffer, size_t size);
size_t pf_format_slabinfo(char* buffer, size_t size);
/* Full structural self-check; 0 if clean, else reports and returns -1. */
int pf_verify(void);

/* A quiescent point of the calling CPU: it is not inside the allocator. An
 * SMP kernel calls this from every CPU's timer tick and idle loop; it makes
 * the CPU execute a full barrier and counts it (pf_cpu_quiescent_count), so
 * a kernel's pfalloc_hook_sync_cpus can wait for every other online CPU to
 * pass one. Cheap; never takes a lock. */
void pf_cpu_service(void);
uint64_t pf_cpu_quiescent_count(unsigned int cpu);

enum pf_status {
  PF_OK = 0,
  PF_ERR_MAP_CAPACITY = -1,  /* more memory-map entries than fit */
  PF_ERR_NO_USABLE_MEMORY = -2,
  PF_ERR_NO_ROOM_FOR_DESCRIPTORS = -3,
  PF_ERR_BAD_CONFIG = -4,
  /* pf_add_memory (each also logged once as "pfalloc: hotplug-...: ..."): */
  PF_ERR_NOT_INITIALISED = -5,       /* pf_init has not succeeded */
  PF_ERR_HOTPLUG_MISALIGNED = -6,    /* base or bytes not a multiple of 4096 */
  PF_ERR_HOTPLUG_TOO_SMALL = -7,     /* cannot hold its own metadata plus one frame */
  PF_ERR_HOTPLUG_BEYOND_LIMIT = -8,  /* ends above the physical address limit (2^52),
                                        or its direct-map addresses wrap past 2^64 */
  PF_ERR_HOTPLUG_OVERLAP = -9,       /* overlaps managed memory, a non-usable map entry
                                        or a range pf_init was given as reserved */
  PF_ERR_HOTPLUG_BELOW_TOP = -10,    /* in a hole below managed memory (not supported) */
  PF_ERR_HOTPLUG_CAPACITY = -11      /* the range table is full */
};

/* ---- Hooks: the embedding kernel implements these ---------------------------- */
/* Mask interrupts on this CPU and return the previous state to restore. */
unsigned long pfalloc_hook_irq_save(void);
void pfalloc_hook_irq_restore(unsigned long state);
/* Spin-wait hint while a lock is contended (pause; a thread may yield). */
void pfalloc_hook_cpu_relax(void);
/* Index of the calling CPU, below pf_config.cpu_count, which the caller owns
 * exclusively while interrupts are masked (in a kernel: the CPU it runs on);
 * PF_NO_CPU for a caller without one (served by a shared, locked path). */
#define PF_NO_CPU 0xffffffffu
unsigned int pfalloc_hook_cpu_id(void);
/* Asymmetric barrier: on return, every other CPU that may be running an
 * allocator fast path has executed a full memory barrier since the call
 * began (Linux: membarrier(2) or an IPI to each online CPU; a kernel may
 * instead wait until every other online CPU has passed pf_cpu_service()).
 * Called only by slow paths that need another CPU's caches (drains,
 * verify, reclaim). With one CPU online it may do nothing. */
void pfalloc_hook_sync_cpus(void);
/* A misuse or broken invariant the handler chose not to survive. `message`
 * is the whole report line ("pfalloc: <error-name>: ..."), which is not
 * logged otherwise: print it. */
void pfalloc_hook_fatal(const char* message) __attribute__((noreturn));
/* Diagnostics and reports: text, not NUL-terminated, no newline appended. */
void pfalloc_hook_log(const char* text, size_t length);

#ifdef __cplusplus
}
#endif

#endif /* PFALLOC_H */
