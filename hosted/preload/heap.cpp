// heap.cpp — the LD_PRELOAD shim's heap: the window, first-use init,
// growth by hot-add, big blocks, fork handlers, PFALLOC_STATS. See shim.hpp
// for the size paths and the big-block table.
//
// The window (one reservation, MAP_NORESERVE, for the life of the process;
// PROT_NONE but for the table and the slices handed to the allocator, each
// opened with mprotect as it is added (map_at says why), the tail no slice
// has reached MADV_DONTDUMP (start() says why): so two mappings, the
// managed part and the tail, until the tail is all managed; munmapped in
// part only when the program lowers its own limits, fit_window_to_limits):
//   [table: 8 bytes per 2 MiB of memory][memory ...]
// "Physical" address kPhysBase sits at a virt_align-aligned address (shim.hpp:
// HeapView), so the direct-map offset is a multiple of virt_align. The window
// costs no address space beyond itself (map_window: no slack is kept, and
// none is held at all when the kernel honours a hint), because ulimit -v and
// -d count every byte of it. Its size is PFALLOC_MEMORY (default 64 GiB),
// at most 3/4 of what those limits leave (reservation_room), and 3/4 of it
// again while mmap refuses.
//
// Memory is given to the allocator a slice at a time, in address order:
// pf_init over the first kFirstSlice, then pf_add_memory over the next slice
// whenever an allocation fails (shim.hpp: grow). Slices grow geometrically
// (each as large as everything managed so far, at most kMaxGeometric) and
// are always large enough for the request that triggered them, descriptors
// (16 bytes per 4 KiB frame, placed by the core inside the slice) and
// alignment included. Near the end of the window the rest of it comes with
// the slice (grow says when). Untouched frames cost nothing, so a program that
// allocates little pays for kFirstSlice's descriptors (32 KiB) and the
// slabs it uses, nothing more.
//
// Invariants: next_phys == kPhysBase + managed_bytes (both under grow_lock);
// every slice is a multiple of kLargestBlock (4 MiB), so every slice starts
// 4 MiB aligned; generation counts the slices added.
//
// Giving memory back: a freed big block's pages are discarded (MADV_DONTNEED)
// before the allocator gets it back, unless the policy below keeps them.
// Safe because the buddy keeps its free lists in the out-of-band
// descriptors, never in free frames (kernel/mm/frame.hpp), and slab free
// lists live only in slabs, which a big block never is. Smaller blocks stay
// resident for reuse. The policy is glibc's dynamic mmap threshold in
// spirit, because discarding every freed block makes a program that frees
// and reallocates blocks of one size fault in every page each time (8
// threads passing 1-4 MiB messages ran 1.8x slower than glibc that way):
//   - a block of at least discard_threshold bytes is discarded; each such
//     discard raises the threshold past its size (up to kDiscardCeiling,
//     glibc's 32 MiB), so later blocks of that size stay resident;
//   - resident free big-block bytes are bounded: dirty_bytes estimates them
//     (+ on a kept free, - on a big allocation, never below 0) and a free
//     that would take it past max(kDirtyFloor, managed / 8) is discarded.
// Both are relaxed counters: a race costs one discard more or less, never
// correctness.
//
// First use: the first malloc (from any thread) runs init() once; others
// wait for it (a CAS on g_state, then a yield loop). init() never calls
// malloc or stdio: mmap/munmap, getenv, getrlimit, open/read/close of
// /proc/self/statm, sched_getaffinity, fcntl/fstat, pf_init,
// pthread_key_create (no allocation in glibc), sysinfo and a read of
// /proc/sys/vm/overcommit_memory, and pthread_atfork once the heap is ready
// (in case it allocates), outside the growth lock it holds meanwhile, and
// only if the library's constructor has not registered the fork handlers
// yet (see fork_prepare).
//
// The kernel's overcommit guess: the window is MAP_NORESERVE and reserved
// once, so the kernel never judges a request; glibc's malloc(n) above its
// mmap threshold is an mmap of n bytes, which the kernel's default policy
// (vm.overcommit_memory = 0, "heuristic") refuses when it is larger than RAM
// and swap together (mm/util.c, __vm_enough_memory). Programs rely on that
// NULL: they probe with a large malloc and halve it, or catch Python's
// MemoryError; granting them a block larger than the machine (the window
// is 64 GiB by default) let them fault it in until the OOM killer came.
// So a big block larger than RAM + swap is ENOMEM under policy 0 (the
// default; also when /proc cannot be read), as glibc's is. Policy 1
// (always) grants anything, as here; policy 2 (strict) accounts the whole
// window at reservation already (start() shrinks it until mmap accepts it).
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <atomic>

#include "hosted/cpu_slots.hpp"
#include "hosted/hosted.hpp"
#include "hosted/preload/shim.hpp"
#include "kernel/mm/spinlock.hpp"
#include "kernel/mm/text.hpp"

namespace pf::preload {

HeapView g_view;
std::atomic<bool> g_ready{false};
std::atomic<uint64_t>* g_big_table = nullptr;

namespace {

constexpr uint64_t kDefaultMemory = 64 * GiB;
// The smallest window: one largest block. A program under a tight
// ulimit -v (a sandbox, a judge: ls runs in 8 MB) failed every malloc when
// the window could not be 16 MiB.
constexpr uint64_t kMinMemory = 4 * MiB;
// The table packs a frame count into 48 bits and the window must stay below
// the core's physical-address limit; 16 TiB is far beyond any machine here.
constexpr uint64_t kMaxMemory = 16 * TiB;
constexpr uint64_t kFirstSlice = 8 * MiB;
// pf_add_memory has 128 range slots: with slices of up to 2 GiB a 64 GiB
// window takes about 40 of them.
constexpr uint64_t kMaxGeometric = 2 * GiB;
constexpr uint64_t kGranule = uint64_t{1} << kGranuleShift;

std::atomic<int> g_state{0};  // 0: not started, 1: init running, 2: ready, 3: failed
__thread bool t_in_init __attribute__((tls_model("initial-exec"))) = false;

unsigned g_cpus = 0;
int g_stats_fd = STDERR_FILENO;
// What g_stats_fd was when the copy was made (st_dev, st_ino): a program
// that closes every descriptor above 2 (daemons, closefrom) and opens
// files may get that number back for a file of its own, into which the
// report must not go.
bool g_stats_known = false;
dev_t g_stats_dev;
ino_t g_stats_ino;

SpinLock g_grow_lock;
uint64_t g_next_phys = 0;  // grow_lock
// The memory the window still maps, in bytes from kPhysBase: g_view.mem_bytes
// until the program lowers its own RLIMIT_AS or RLIMIT_DATA, when
// fit_window_to_limits unmaps the tail no slice has reached (grow stops
// there). Written under grow_lock; atomic for pfalloc_preload_get_info.
std::atomic<uint64_t> g_window_bytes{0};
uint64_t g_table_bytes = 0;  // the big-block table in front of the memory
std::atomic<uint64_t> g_managed{0};
std::atomic<uint64_t> g_generation{0};
std::atomic<uint64_t> g_grows{0};
std::atomic<uint64_t> g_big_live{0};
std::atomic<uint64_t> g_big_bytes{0};  // the frames of the live big blocks, in bytes (mallinfo)
std::atomic<uint64_t> g_discarded{0};

// RAM + swap in frames as last seen, under overcommit policy 0; ~0 under any
// other policy (no limit but the window's). Read again when a request is
// above it (swap may have been added since).
std::atomic<uint64_t> g_guess_frames{~uint64_t{0}};

constexpr uint64_t kDiscardCeiling = 32 * MiB;
constexpr uint64_t kDirtyFloor = 64 * MiB;
std::atomic<uint64_t> g_discard_threshold{0};
std::atomic<uint64_t> g_dirty_bytes{0};

// The giving-back policy (see the header): true if a freed big block of
// `bytes` goes back to the OS now.
bool should_discard(uint64_t bytes) {
  const uint64_t threshold = g_discard_threshold.load(std::memory_order_relaxed);
  if (bytes >= threshold) {
    if (bytes < kDiscardCeiling) g_discard_threshold.store(bytes + 1, std::memory_order_relaxed);
    return true;
  }
  const uint64_t managed = g_managed.load(std::memory_order_relaxed);
  const uint64_t budget = managed / 8 > kDirtyFloor ? managed / 8 : kDirtyFloor;
  const uint64_t dirty = g_dirty_bytes.load(std::memory_order_relaxed);
  if (dirty + bytes > budget) return true;
  g_dirty_bytes.store(dirty + bytes, std::memory_order_relaxed);
  return false;
}

// A big block handed out takes (at most) its size off the resident estimate.
void note_big_alloc(uint64_t bytes) {
  const uint64_t dirty = g_dirty_bytes.load(std::memory_order_relaxed);
  if (dirty != 0) g_dirty_bytes.store(dirty > bytes ? dirty - bytes : 0, std::memory_order_relaxed);
}

constexpr uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

// RAM + swap in frames (sysinfo), or ~0 if the kernel does not say.
uint64_t ram_and_swap_frames() {
  struct sysinfo si{};
  if (sysinfo(&si) != 0) return ~uint64_t{0};
  const uint64_t unit = si.mem_unit != 0 ? si.mem_unit : 1;
  return (static_cast<uint64_t>(si.totalram) + si.totalswap) * unit / kPageSize;
}

// At init: the overcommit policy (see the top), with open/read (no stdio).
void read_overcommit_policy() {
  char c = '0';
  const int fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    if (read(fd, &c, 1) != 1) c = '0';
    close(fd);
  }
  if (c == '0') g_guess_frames.store(ram_and_swap_frames(), std::memory_order_relaxed);
}

// True if the kernel's overcommit guess would refuse one mapping of
// `frames` frames (glibc's malloc of that size then says ENOMEM).
bool beyond_overcommit_guess(uint64_t frames) {
  if (frames <= g_guess_frames.load(std::memory_order_relaxed)) return false;
  const uint64_t now = ram_and_swap_frames();
  g_guess_frames.store(now, std::memory_order_relaxed);
  return frames > now;
}

// "64G", "512M", "1048576", "2GiB": bytes, or 0 if it does not parse.
uint64_t parse_size(const char* s) {
  if (s == nullptr || *s < '0' || *s > '9') return 0;
  uint64_t v = 0;
  for (; *s >= '0' && *s <= '9'; ++s) {
    if (v > (~uint64_t{0} - 9) / 10) return 0;
    v = v * 10 + static_cast<uint64_t>(*s - '0');
  }
  unsigned shift = 0;
  switch (*s | 0x20) {
    case 'k': shift = 10; break;
    case 'm': shift = 20; break;
    case 'g': shift = 30; break;
    case 't': shift = 40; break;
    default: break;
  }
  if (shift != 0) ++s;
  if ((*s | 0x20) == 'i') ++s;
  if ((*s | 0x20) == 'b') ++s;
  if (*s != '\0' || v > (~uint64_t{0} >> shift)) return 0;
  return v << shift;
}

bool stats_wanted() {
  const char* e = getenv("PFALLOC_STATS");
  return e != nullptr && e[0] != '\0' && e[0] != '0';
}

// The default slot count (hosted/cpu_slots.hpp) from this process's
// affinity mask; the raw syscall, which answers the bytes written (glibc's
// wrapper returns 0). 1024 CPUs fit; a machine with more possible CPUs
// answers EINVAL, which default_cpu_slots reads as "many".
unsigned default_cpus(uint64_t env_cpus) {
  unsigned long mask[16] = {};
  const long answer = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
  return hosted::default_cpu_slots(mask, answer < 0 ? -errno : answer, sizeof mask / sizeof mask[0], env_cpus);
}

// Fork. glibc runs prepare handlers in the reverse order of registration
// and child/parent handlers in order, so the allocator's handlers must be
// registered before every handler that may allocate: then its prepare runs
// last (after the program's, which may call malloc) and its child handler
// first (before the program's, which may too). They were registered at the
// first malloc; a program (or library) that registered its own handlers
// before that and allocated in them deadlocked in fork: its prepare handler
// waited for the locks ours had just taken, and a first malloc inside a
// prepare handler of a multi-threaded program registered ours while glibc
// held its fork-handler lock. Now the library's constructor registers them
// (register_fork_handlers; init does if a constructor of another library
// allocated first), before the program's constructors and main, and they
// may run before the heap exists: prepare takes the growth lock, which init
// holds while it builds the heap, and the allocator's locks only if the
// heap is ready (g_fork_locked says so to the same thread's parent or child
// handler). So a fork in one thread while another is inside init waits for
// it (the child once inherited an init that never ended).
bool g_fork_locked = false;  // written by fork_prepare, read by the forking thread's handlers
void fork_prepare() {
  g_grow_lock.lock();
  g_fork_locked = g_ready.load(std::memory_order_acquire);
  if (g_fork_locked) pf_fork_prepare();
}
void fork_parent() {
  if (g_fork_locked) pf_fork_parent();
  g_grow_lock.unlock();
}
void fork_child() {
  if (g_fork_locked) {
    pf_fork_child();
    hosted::fork_child_reset_slots();
  }
  g_grow_lock.unlock();
}

std::atomic<bool> g_fork_handlers{false};
// Once. pthread_atfork may allocate (its list grows): that malloc may run
// init, which then finds the handlers registered already.
void register_fork_handlers() {
  if (!g_fork_handlers.exchange(true, std::memory_order_acq_rel))
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}
__attribute__((constructor)) void register_fork_handlers_at_load() { register_fork_handlers(); }

// The address space a reservation may still take without failing, or ~0
// if no limit is set: RLIMIT_AS counts every mapping, RLIMIT_DATA every
// private writable one (the window is the first whole, MAP_NORESERVE or
// not, and the second as far as it is open for use, map_at). What the
// process holds already comes from /proc/self/statm (its "data" column
// counts the stack too: an underestimate of the room, which is the safe
// side). Read with open/read: no malloc, no stdio. `discount`: bytes of
// the process's own mappings not to count as used (the window itself, when
// fit_window_to_limits asks).
uint64_t reservation_room(uint64_t discount = 0) {
  rlimit as{}, data{};
  const bool as_set = getrlimit(RLIMIT_AS, &as) == 0 && as.rlim_cur != RLIM_INFINITY;
  const bool data_set = getrlimit(RLIMIT_DATA, &data) == 0 && data.rlim_cur != RLIM_INFINITY;
  if (!as_set && !data_set) return ~uint64_t{0};  // the usual case: no /proc read
  // size resident shared text lib data dt (pages)
  uint64_t field[7] = {};
  const int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char text[160];
    const ssize_t n = read(fd, text, sizeof text - 1);
    close(fd);
    unsigned f = 0;
    for (ssize_t i = 0; i < n && f < 7; ++i) {
      if (text[i] >= '0' && text[i] <= '9')
        field[f] = field[f] * 10 + static_cast<uint64_t>(text[i] - '0');
      else if (text[i] == ' ')
        ++f;
    }
  }
  uint64_t room = ~uint64_t{0};
  const auto left = [&room, discount](const rlimit& r, uint64_t used_pages) {
    const uint64_t all = used_pages * kPageSize;
    const uint64_t used = all > discount ? all - discount : 0;
    const uint64_t l = r.rlim_cur > used ? r.rlim_cur - used : 0;
    if (l < room) room = l;
  };
  if (as_set) left(as, field[0]);
  if (data_set) left(data, field[5]);
  return room;
}

// The window's layout for `mem` bytes of memory (see the top).
struct Layout {
  uint64_t virt_align;   // min(kVirtAlign, largest power of two <= mem)
  uint64_t table_bytes;  // the big-block table, whole pages
  uint64_t bytes;        // table_bytes + mem: what the window keeps
};
Layout layout_for(uint64_t mem) {
  const uint64_t pow2 = uint64_t{1} << (63 - __builtin_clzll(mem));
  const uint64_t virt_align = pow2 < kVirtAlign ? pow2 : kVirtAlign;
  const uint64_t table_bytes = align_up((mem >> kGranuleShift) * sizeof(uint64_t), kPageSize);
  return {virt_align, table_bytes, table_bytes + mem};
}

// Inaccessible (PROT_NONE): start() and grow() open the table and each
// slice for reading and writing as they are handed to the allocator.
// Under the kernel's strict overcommit policy (vm.overcommit_memory=2)
// MAP_NORESERVE is ignored and every private writable byte is charged to
// the system's commit limit at once: a window mapped writable took all the
// commit it could get (3/4 of what was left, see start()), and every other
// process of the machine failed to allocate until this one exited. A
// PROT_NONE reservation is charged nothing, each slice when it is opened
// (so the limit is met slice by slice, as glibc meets it mmap by mmap), and
// RLIMIT_DATA (which counts writable private mappings only) sees only what
// is managed.
void* map_at(uintptr_t hint, uint64_t bytes) {
  return mmap(reinterpret_cast<void*>(hint), bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
}

// Opens [p, p + bytes) of the window for use; false if the kernel refuses
// (the commit limit under strict overcommit, RLIMIT_DATA).
bool open_for_use(uintptr_t p, uint64_t bytes) {
  return mprotect(reinterpret_cast<void*>(p), bytes, PROT_READ | PROT_WRITE) == 0;
}

// Maps l.bytes so that the memory (past the table) starts virt_align
// aligned; returns the table's address, or 0. Without ever holding more
// than l.bytes where it can: a limit (ulimit -v, -d) counts every byte of
// a reservation, slack included. First the exact size, where the kernel
// puts it; unless that happens to be aligned, the same size again just
// below it, aligned (mappings are placed top down, so the space below the
// lowest one is usually free: the hint is honoured). Else, with slack: the
// size plus virt_align, trimmed at once (one mapping either way).
uintptr_t map_window(const Layout& l) {
  void* base = map_at(0, l.bytes);
  if (base == MAP_FAILED) return 0;
  uintptr_t table = reinterpret_cast<uintptr_t>(base);
  if (((table + l.table_bytes) & (l.virt_align - 1)) == 0) return table;
  munmap(base, l.bytes);
  const uintptr_t below = ((table + l.table_bytes) & ~(l.virt_align - 1)) - l.table_bytes;
  if (below < table && below >= l.virt_align) {
    base = map_at(below, l.bytes);
    if (base != MAP_FAILED && reinterpret_cast<uintptr_t>(base) == below) return below;
    if (base != MAP_FAILED) munmap(base, l.bytes);
  }
  // mmap's answer is page aligned: virt_align - one page of slack suffices.
  const uint64_t reserve = l.bytes + l.virt_align - kPageSize;
  base = map_at(0, reserve);
  if (base == MAP_FAILED) return 0;
  const auto window = reinterpret_cast<uintptr_t>(base);
  table = align_up(window + l.table_bytes, l.virt_align) - l.table_bytes;
  if (table > window) munmap(base, table - window);
  if (window + reserve > table + l.bytes)
    munmap(reinterpret_cast<void*>(table + l.bytes), window + reserve - (table + l.bytes));
  return table;
}

bool start() {
  uint64_t mem = parse_size(getenv("PFALLOC_MEMORY"));
  if (mem == 0) mem = kDefaultMemory;
  if (mem > kMaxMemory) mem = kMaxMemory;
  // Under ulimit -v or -d the window takes at most 3/4 of the room left,
  // so that the program's own mappings (thread stacks, files, libraries)
  // still fit beside it.
  const uint64_t room = reservation_room();
  if (mem > room / 4 * 3) mem = room / 4 * 3;
  if (mem < kMinMemory) mem = kMinMemory;
  mem = align_up(mem, kLargestBlock);
  Layout l{};
  uintptr_t table = 0;
  // A limit the room did not see (another thread mapping meanwhile) may
  // refuse the reservation: ask for 3/4 as much, at least 4 MiB less each
  // time (rounding 3/4 up to whole 4 MiB does not shrink 8 MiB), until
  // kMinMemory.
  for (;;) {
    if (mem < kMinMemory) mem = kMinMemory;
    l = layout_for(mem);
    table = map_window(l);
    if (table != 0 || mem == kMinMemory) break;
    const uint64_t next = align_up(mem / 4 * 3, kLargestBlock);
    mem = next < mem ? next : mem - kLargestBlock;
  }
  if (table == 0) return false;
  g_big_table = reinterpret_cast<std::atomic<uint64_t>*>(table);
  g_view.mem_virt = table + l.table_bytes;
  g_view.mem_bytes = mem;
  g_view.offset = g_view.mem_virt - kPhysBase;
  g_view.virt_align = l.virt_align;
  g_window_bytes.store(mem, std::memory_order_relaxed);
  g_table_bytes = l.table_bytes;

  // CPU slots: threads beyond them share one locked cache. Each slot costs
  // about 1 KiB per kmalloc class once used (its per-CPU object arrays).
  g_cpus = default_cpus(parse_size(getenv("PFALLOC_CPUS")));
  read_overcommit_policy();
  // Programs close stderr on the way out (coreutils' close_stdout): keep a
  // copy (close-on-exec, well above the low numbers) for the report.
  if (stats_wanted()) {
    const int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 64);
    if (fd >= 0) g_stats_fd = fd;
    struct stat st{};
    if (fstat(g_stats_fd, &st) == 0) {
      g_stats_known = true;
      g_stats_dev = st.st_dev;
      g_stats_ino = st.st_ino;
    }
  }

  const uint64_t first = mem < kFirstSlice ? mem : kFirstSlice;
  if (!open_for_use(table, l.table_bytes + first)) {
    munmap(reinterpret_cast<void*>(table), l.bytes);
    return false;
  }
  pf_config config{};
  config.direct_map_offset = g_view.offset;
  config.cpu_count = g_cpus;
  const pf_region region{kPhysBase, first, PF_REGION_USABLE};
  if (pf_init(&config, &region, 1, nullptr, 0) != PF_OK) {
    munmap(reinterpret_cast<void*>(table), l.bytes);  // nothing of it was handed out
    return false;
  }
  hosted::set_slot_limit(g_cpus);
  // Core dumps leave out the memory no slice has reached yet (grow() lets
  // each slice in as it is added): a crash (pfalloc's own abort on misuse
  // among them) wrote a core of the whole window, 64 GiB, sparse in a file
  // but streamed as zeros to a core_pattern pipe (systemd-coredump,
  // apport). The window is then two mappings, the managed part and the
  // tail, until the tail is all managed.
  if (mem > first) madvise(reinterpret_cast<void*>(g_view.mem_virt + first), mem - first, MADV_DONTDUMP);
  g_next_phys = kPhysBase + first;
  g_managed.store(first, std::memory_order_relaxed);
  return true;
}

void write_all(const char* text, size_t n) {
  if (g_stats_fd < 0) return;
  while (n > 0) {
    const ssize_t w = write(g_stats_fd, text, n);
    if (w <= 0) return;
    text += w;
    n -= static_cast<size_t>(w);
  }
}

// PFALLOC_STATS=1: the report at exit (then pf_verify), written with write(2) (stdio may be
// gone by now). A destructor of the library: it runs after the program's
// atexit handlers and its own destructors (the preloaded library is
// initialised before the program, so it is finalised after it).
// The descriptor the report goes to: the copy of stderr made at init if it
// is still that file, else stderr if stderr is, else none (-1). (Stderr
// if nothing was recorded: PFALLOC_STATS set by the program itself.)
int stats_fd() {
  if (!g_stats_known) return STDERR_FILENO;
  struct stat st{};
  for (const int fd : {g_stats_fd, STDERR_FILENO})
    if (fstat(fd, &st) == 0 && st.st_dev == g_stats_dev && st.st_ino == g_stats_ino) return fd;
  return -1;
}

__attribute__((destructor)) void stats_at_exit() {
  if (!g_ready.load(std::memory_order_acquire) || !stats_wanted()) return;
  g_stats_fd = stats_fd();
  static char buffer[64 * 1024];
  pf_counters c{};
  pf_get_counters(&c);
  pfalloc_preload_info info{};
  pfalloc_preload_get_info(&info);
  {
    TextBuffer t(buffer, sizeof buffer);
    t.str("pfalloc stats (pid ").dec(static_cast<uint64_t>(getpid())).str(")").nl();
    t.str("  window ").dec(info.window_bytes >> 20).str(" MiB, managed ").dec(info.managed_bytes >> 20)
        .str(" MiB in ").dec(info.grows + 1).str(" slices, cpu slots ").dec(info.cpu_count).nl();
    t.str("  frames: managed ").dec(c.managed_frames).str(", free ").dec(c.free_frames)
        .str(", reserved ").dec(c.reserved_frames).nl();
    t.str("  big blocks live ").dec(info.big_live).str(", discarded to the OS ")
        .dec(info.discarded_bytes >> 10).str(" KiB").nl();
    write_all(t.c_str(), t.length());
  }
  write_all("buddyinfo:\n", 11);
  write_all(buffer, pf_format_buddyinfo(buffer, sizeof buffer));
  write_all("slabinfo:\n", 10);
  write_all(buffer, pf_format_slabinfo(buffer, sizeof buffer));
  // The full self-check last (a violation is reported by name, and fatal).
  if (pf_verify() == 0) write_all("verify: clean\n", 14);
}

// The table entry of a big block: its first frame within the granule, its
// frame count, and how it was allocated (alloc_pages or alloc_contig).
//   bit 0: valid; bits 1..9: frame in granule; bit 15: contig; bits 16..: frames
constexpr uint64_t kEntryContig = uint64_t{1} << 15;
constexpr uint64_t make_entry(uint64_t offset, uint64_t frames, bool contig) {
  return (frames << 16) | (contig ? kEntryContig : 0) |
         (((offset & (kGranule - 1)) >> kPageShift) << 1) | 1;
}
constexpr uint64_t entry_frames(uint64_t e) { return e >> 16; }

// The entry of the big block starting at p (its granule's), or 0.
std::atomic<uint64_t>* entry_of(const void* p, uint64_t* value) {
  const uint64_t off = reinterpret_cast<uintptr_t>(p) - g_view.mem_virt;
  if (off >= g_view.mem_bytes) return nullptr;
  std::atomic<uint64_t>* slot = &g_big_table[off >> kGranuleShift];
  const uint64_t e = slot->load(std::memory_order_relaxed);
  if (e == 0 || (off & (kGranule - 1)) != ((e >> 1) & 0x1ff) << kPageShift) return nullptr;
  *value = e;
  return slot;
}

}  // namespace

bool init() {
  if (t_in_init) return false;  // init itself allocating: never by design, refuse rather than hang
  int state = 0;
  if (!g_state.compare_exchange_strong(state, 1, std::memory_order_acq_rel)) {
    while ((state = g_state.load(std::memory_order_acquire)) == 1) sched_yield();
    return state == 2;
  }
  // The first malloc of a program must not change errno: start()'s system
  // calls (the affinity mask, /proc, rlimits, mmap) may set it even on the
  // way to success.
  const int saved_errno = errno;
  bool ok = false;
  {
    LockGuard guard(g_grow_lock);  // a fork meanwhile waits for the whole heap (fork_prepare)
    t_in_init = true;
    ok = start();
    t_in_init = false;
    if (ok) g_ready.store(true, std::memory_order_release);
    g_state.store(ok ? 2 : 3, std::memory_order_release);
  }
  errno = saved_errno;
  if (!ok) return false;
  register_fork_handlers();  // normally done by the constructor already
  return true;
}

uint64_t generation() { return g_generation.load(std::memory_order_acquire); }

bool grow(uint64_t need, uint64_t align, uint64_t seen) {
  LockGuard guard(g_grow_lock);
  if (g_generation.load(std::memory_order_relaxed) != seen) return true;  // someone grew meanwhile
  const uint64_t window = g_window_bytes.load(std::memory_order_relaxed);
  const uint64_t end = kPhysBase + window;
  if (need > window || align > window) return false;
  // Room for the run itself, its descriptors (1/256 of the slice; 1/128 to
  // be generous), the alignment, and a 4 MiB block's alignment slack.
  const uint64_t want = align_up(need + need / 128 + align + kLargestBlock, kLargestBlock) + kLargestBlock;
  const uint64_t managed = g_managed.load(std::memory_order_relaxed);
  uint64_t slice = align_up(managed < kMaxGeometric ? managed : kMaxGeometric, kLargestBlock);
  if (slice < want) slice = want;
  // Near the end of the window the rest comes with this slice: a tail left
  // smaller than 4 slices would cap the largest block there (blocks never
  // span two slices) at about half the window; this way the last slice is
  // at least 5/6 of it (a 584 MiB window, as ulimit -v 800000 gives, held
  // blocks of 211 MiB at most, now 450). The price: the tail's descriptors
  // (1/256 of it) are written up to 6x earlier than doubling would.
  if (end - g_next_phys > slice && end - g_next_phys - slice < 4 * slice) slice = end - g_next_phys;
  // The window's last slice is all that is left, even when it is smaller
  // than `want` (which is generous: a 4 MiB slack twice over): the request
  // may well fit, and nothing else could ever use that memory. Refusing it
  // left half of a 16 MiB window unused (malloc(512 KiB) after malloc(7
  // MiB) was ENOMEM with 8 MiB never managed). If it does not fit, the
  // caller's next attempt finds the window full and says ENOMEM.
  if (g_next_phys + slice > end) slice = end - g_next_phys;
  if (slice == 0) return false;
  // Opened (map_at) and let into core dumps (start()) before any of its
  // pages is touched: so the kernel merges it into the managed part (a
  // faulted page would give it an anon_vma of its own, and the window would
  // stay one mapping per slice).
  if (!open_for_use(g_next_phys + g_view.offset, slice)) return false;
  madvise(reinterpret_cast<void*>(g_next_phys + g_view.offset), slice, MADV_DODUMP);
  if (pf_add_memory(g_next_phys, slice) != PF_OK) return false;
  g_next_phys += slice;
  g_managed.fetch_add(slice, std::memory_order_relaxed);
  g_grows.fetch_add(1, std::memory_order_relaxed);
  g_generation.fetch_add(1, std::memory_order_release);
  return true;
}

// The program lowered its own RLIMIT_AS or RLIMIT_DATA (the interposed
// setrlimit & co. below). Both count every byte of the window, used or not
// (MAP_NORESERVE changes nothing there), so a limit set after the window was
// reserved left no room for anything else: no thread stack, no file
// mapping, no pymalloc arena (Python's resource.setrlimit(RLIMIT_AS, ...),
// then a thread: "can't start new thread"). The window is cut to what
// start() would have reserved under the new limit (3/4 of the room it leaves
// beside everything else the process maps), never below the memory already
// handed to the allocator: the tail beyond is unmapped (as many mappings
// still, a shorter window), and grow() stops there. A raised limit changes nothing.
static void fit_window_to_limits() {
  if (!g_ready.load(std::memory_order_acquire)) return;  // start() reads the limits itself
  const int saved_errno = errno;
  {
    LockGuard guard(g_grow_lock);
    const uint64_t window = g_window_bytes.load(std::memory_order_relaxed);
    const uint64_t room = reservation_room(g_table_bytes + window);  // beside the window
    if (room != ~uint64_t{0}) {
      uint64_t keep = room / 4 * 3;
      keep = keep > g_table_bytes ? (keep - g_table_bytes) & ~(kLargestBlock - 1) : 0;
      const uint64_t managed = g_next_phys - kPhysBase;  // a multiple of 4 MiB, as every slice
      if (keep < managed) keep = managed;
      if (keep < window) {
        munmap(reinterpret_cast<void*>(g_view.mem_virt + keep), window - keep);
        g_window_bytes.store(keep, std::memory_order_relaxed);
      }
    }
  }
  errno = saved_errno;
}

bool discard(void* p, size_t bytes) {
  const int saved_errno = errno;
  if (madvise(p, bytes, MADV_DONTNEED) != 0) {
    errno = saved_errno;
    return false;
  }
  g_discarded.fetch_add(bytes, std::memory_order_relaxed);
  return true;
}

// calloc's zeroing relied on discard alone: for pages the program had locked
// (mlock of a block it then freed, or mlockall) madvise fails and the old
// bytes stayed, so calloc handed out dirty memory.
void zero_pages(void* p, size_t bytes) {
  if (!discard(p, bytes)) memset(p, 0, bytes);
}

void* big_alloc(size_t size, size_t align, bool zero) {
  if (size > g_view.mem_bytes || align > g_view.virt_align ||
      beyond_overcommit_guess((size + kPageSize - 1) >> kPageShift)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (align < kPageSize) align = kPageSize;
  uint64_t frames = (size + kPageSize - 1) >> kPageShift;
  // A whole buddy block when one is large enough (it is naturally aligned);
  // contiguous frames beyond, never below a granule (see shim.hpp).
  const bool contig = frames > (uint64_t{1} << kMaxOrder) || align > kLargestBlock;
  unsigned order = 0;
  if (contig) {
    if (frames < (kGranule >> kPageShift)) frames = kGranule >> kPageShift;
  } else {
    const uint64_t want = frames > (align >> kPageShift) ? frames : align >> kPageShift;
    while ((uint64_t{1} << order) < want) ++order;
    frames = uint64_t{1} << order;
  }
  for (int attempt = 0;; ++attempt) {
    const uint64_t seen = generation();
    const pf_phys_t phys = contig ? alloc_contig(frames, align, 0, 0, kGfp) : alloc_pages(order, kGfp);
    if (phys != 0) {
      const uint64_t off = phys - kPhysBase;
      g_big_table[off >> kGranuleShift].store(make_entry(off, frames, contig), std::memory_order_relaxed);
      g_big_live.fetch_add(1, std::memory_order_relaxed);
      g_big_bytes.fetch_add(frames << kPageShift, std::memory_order_relaxed);
      note_big_alloc(frames << kPageShift);
      void* p = reinterpret_cast<void*>(g_view.mem_virt + off);
      if (zero) zero_pages(p, frames << kPageShift);
      return p;
    }
    if (attempt < 8 && grow(frames << kPageShift, align, seen)) continue;
    if (attempt < 9) {
      pf_reclaim();  // the window is full: what the caches hold is all there is
      attempt = 8;
      continue;
    }
    errno = ENOMEM;
    return nullptr;
  }
}

bool big_free(void* p) {
  uint64_t e = 0;
  std::atomic<uint64_t>* slot = entry_of(p, &e);
  // The exchange makes one of two racing frees the owner; the other goes on
  // to kfree, which reports the block as not an object.
  if (slot == nullptr || !slot->compare_exchange_strong(e, 0, std::memory_order_relaxed)) return false;
  const uint64_t frames = entry_frames(e);
  if (should_discard(frames << kPageShift)) discard(p, frames << kPageShift);
  const pf_phys_t phys = reinterpret_cast<uintptr_t>(p) - g_view.offset;
  if (e & kEntryContig)
    free_contig(phys, frames);
  else
    free_pages(phys, static_cast<unsigned>(__builtin_ctzll(frames)));
  g_big_live.fetch_sub(1, std::memory_order_relaxed);
  g_big_bytes.fetch_sub(frames << kPageShift, std::memory_order_relaxed);
  return true;
}

size_t big_size(const void* p) {
  uint64_t e = 0;
  return entry_of(p, &e) != nullptr ? entry_frames(e) << kPageShift : 0;
}

}  // namespace pf::preload

using namespace pf::preload;

// setrlimit, setrlimit64, prlimit and prlimit64 (glibc's are all the
// prlimit64 system call): the call itself, then, when the calling process
// has set its own RLIMIT_AS or RLIMIT_DATA, the window made to fit
// (fit_window_to_limits). A limit set another way (prlimit(1) from outside,
// a raw syscall) is not seen.
namespace {
int own_prlimit(pid_t pid, int resource, const void* new_limit, void* old_limit) {
  const long r = syscall(SYS_prlimit64, pid, resource, new_limit, old_limit);
  if (r == 0 && new_limit != nullptr && (resource == RLIMIT_AS || resource == RLIMIT_DATA) &&
      (pid == 0 || pid == getpid()))
    fit_window_to_limits();
  return static_cast<int>(r);
}
}  // namespace

#define PF_EXPORT extern "C" __attribute__((visibility("default")))
PF_EXPORT int setrlimit(__rlimit_resource_t resource, const struct rlimit* limit) noexcept {
  return own_prlimit(0, resource, limit, nullptr);
}
PF_EXPORT int setrlimit64(__rlimit_resource_t resource, const struct rlimit64* limit) noexcept {
  return own_prlimit(0, resource, limit, nullptr);
}
PF_EXPORT int prlimit(pid_t pid, enum __rlimit_resource resource, const struct rlimit* new_limit,
                             struct rlimit* old_limit) noexcept {
  return own_prlimit(pid, resource, new_limit, old_limit);
}
PF_EXPORT int prlimit64(pid_t pid, enum __rlimit_resource resource, const struct rlimit64* new_limit,
                               struct rlimit64* old_limit) noexcept {
  return own_prlimit(pid, resource, new_limit, old_limit);
}

// mlockall(MCL_CURRENT) locks every mapping and faults every page of it in:
// the whole window too, 64 GiB by default, untouched or not (RSS grew to the
// window's size; a root process met the OOM killer). Here the window is
// locked on fault instead (MCL_ONFAULT for the current mappings: the pages in
// use, resident already, are locked now; heap pages touched later are locked
// as they fault), and every other mapping is faulted in and locked as the
// program asked, by mlock(2) mapping by mapping (errors ignored, as the
// kernel's own mlockall ignores them); MCL_FUTURE is passed on as given.
// The limit check (RLIMIT_MEMLOCK against the whole address space, window
// included, without CAP_IPC_LOCK) is the kernel's. What differs from glibc:
// a block allocated but not yet touched is not faulted in by the call.
namespace {
// Calls fn(start, end) for each line of /proc/self/maps; no malloc, no stdio.
template <typename Fn>
void for_each_mapping(Fn fn) {
  const int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  size_t have = 0;
  for (;;) {
    const ssize_t n = read(fd, buf + have, sizeof buf - have);
    if (n <= 0) break;
    have += static_cast<size_t>(n);
    size_t line = 0;
    for (size_t i = 0; i < have; ++i) {
      if (buf[i] != '\n') continue;
      uintptr_t v[2] = {0, 0};
      unsigned f = 0;
      for (size_t k = line; k < i && f < 2; ++k) {
        const char c = buf[k];
        if (c >= '0' && c <= '9') v[f] = v[f] * 16 + static_cast<uintptr_t>(c - '0');
        else if (c >= 'a' && c <= 'f') v[f] = v[f] * 16 + static_cast<uintptr_t>(c - 'a' + 10);
        else if (c == '-') ++f;
        else break;
      }
      if (f == 1 && v[1] > v[0]) fn(v[0], v[1]);
      line = i + 1;
    }
    // Keep the partial last line (a line is far shorter than the buffer).
    memmove(buf, buf + line, have - line);
    have -= line;
    if (have == sizeof buf) have = 0;  // a line longer than the buffer: skipped
  }
  close(fd);
}
}  // namespace

PF_EXPORT int mlockall(int flags) noexcept {
  if (!(flags & MCL_CURRENT) || !g_ready.load(std::memory_order_acquire))
    return static_cast<int>(syscall(SYS_mlockall, flags));
  if (syscall(SYS_mlockall, MCL_CURRENT | MCL_ONFAULT) != 0) return -1;
  if ((flags & MCL_FUTURE) && syscall(SYS_mlockall, flags & ~MCL_CURRENT) != 0) return -1;
  if (flags & MCL_ONFAULT) return 0;  // the program asked for exactly that
  const int saved_errno = errno;
  const uintptr_t window_start = reinterpret_cast<uintptr_t>(g_big_table);
  const uintptr_t window_end = g_view.mem_virt + g_window_bytes.load(std::memory_order_relaxed);
  const auto lock = [](uintptr_t from, uintptr_t to) {
    if (to > from) mlock(reinterpret_cast<void*>(from), to - from);
  };
  for_each_mapping([&](uintptr_t start, uintptr_t end) {
    lock(start, end < window_start ? end : window_start);
    lock(start > window_end ? start : window_end, end);
  });
  errno = saved_errno;
  return 0;
}

// mallinfo2 and mallinfo: glibc's described glibc's own heap, which nothing
// uses under the shim, so a program reporting its memory printed zeros
// (e2fsck -t "Memory used: 0k", ld.gold --stats, LLVM's -ftime-report,
// systemd). The shim's counterparts, in glibc's terms: arena = the memory
// managed for everything but big blocks (the "sbrk" heap), hblks/hblkhd =
// the big blocks (glibc's mmapped chunks), uordblks = the frames in use
// outside big blocks (slabs whole, objects free in them included),
// fordblks = the free frames; the rest 0. mallinfo's int fields wrap as
// glibc's do (the reason it is deprecated).
PF_EXPORT struct mallinfo2 mallinfo2() noexcept {
  struct mallinfo2 m{};
  if (!g_ready.load(std::memory_order_acquire)) return m;
  pf_counters c{};
  pf_get_counters(&c);
  const uint64_t big = g_big_bytes.load(std::memory_order_relaxed);
  const uint64_t managed = c.managed_frames << pf::kPageShift;
  const uint64_t free_bytes = c.free_frames << pf::kPageShift;
  const uint64_t used = managed > free_bytes ? managed - free_bytes : 0;
  m.arena = managed > big ? managed - big : 0;
  m.hblks = g_big_live.load(std::memory_order_relaxed);
  m.hblkhd = big;
  m.uordblks = used > big ? used - big : 0;
  m.fordblks = free_bytes;
  return m;
}

// malloc_trim: glibc's trimmed glibc's unused heap (nothing; 0), so a
// program that calls it to give memory back after a peak (qemu, tmux) kept
// its whole resident set. Here: the per-CPU caches and empty slabs go back
// to the buddy (pf_reclaim), then every free block of 64 KiB and more is
// taken out of it, its pages discarded (MADV_DONTNEED) and given back. Safe
// because the buddy keeps its free lists out of band (the top of this
// file); the blocks are chained through their first word while held, and
// each is discarded after its link is read. Smaller free blocks and free
// objects in slabs stay resident (as glibc keeps chunks below a page). The
// growth lock is held meanwhile, and the generation bumped after: an
// allocation that failed while the blocks were held retries instead of
// growing the heap. `pad` (glibc: bytes to leave at the top) is ignored.
// Returns 1 if memory was given back, as glibc's.
PF_EXPORT int malloc_trim(size_t pad) noexcept {
  (void)pad;
  if (!g_ready.load(std::memory_order_acquire)) return 0;
  constexpr unsigned kTrimMinOrder = 4;  // 64 KiB
  uint64_t released = 0;
  {
    pf::LockGuard guard(g_grow_lock);
    pf_reclaim();
    for (unsigned order = pf::kMaxOrder + 1; order-- > kTrimMinOrder;) {
      uintptr_t chain = 0;
      for (pf_phys_t phys; (phys = alloc_pages(order, kGfp)) != 0;) {
        const uintptr_t block = phys + g_view.offset;
        *reinterpret_cast<uintptr_t*>(block) = chain;
        chain = block;
      }
      while (chain != 0) {
        const uintptr_t block = chain;
        chain = *reinterpret_cast<uintptr_t*>(block);
        if (discard(reinterpret_cast<void*>(block), pf::kPageSize << order)) released += pf::kPageSize << order;
        free_pages(block - g_view.offset, order);
      }
    }
    g_dirty_bytes.store(0, std::memory_order_relaxed);
    g_generation.fetch_add(1, std::memory_order_release);
  }
  return released != 0;
}

PF_EXPORT struct mallinfo mallinfo() noexcept {
  const struct mallinfo2 m2 = mallinfo2();
  struct mallinfo m{};
  m.arena = static_cast<int>(m2.arena);
  m.hblks = static_cast<int>(m2.hblks);
  m.hblkhd = static_cast<int>(m2.hblkhd);
  m.uordblks = static_cast<int>(m2.uordblks);
  m.fordblks = static_cast<int>(m2.fordblks);
  return m;
}

extern "C" void pfalloc_preload_get_info(struct pfalloc_preload_info* out) {
  *out = pfalloc_preload_info{};
  if (!g_ready.load(std::memory_order_acquire)) return;
  out->window_bytes = g_window_bytes.load(std::memory_order_relaxed);
  out->managed_bytes = g_managed.load(std::memory_order_relaxed);
  out->grows = g_grows.load(std::memory_order_relaxed);
  out->big_live = g_big_live.load(std::memory_order_relaxed);
  out->discarded_bytes = g_discarded.load(std::memory_order_relaxed);
  out->cpu_count = g_cpus;
  out->slots_in_use = pf::hosted::slots_in_use();
}
