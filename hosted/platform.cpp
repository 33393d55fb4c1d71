// platform.cpp — the hosted (Linux) definitions of the pfalloc hooks.
//
// A "CPU" is a slot a thread owns. Why slots and not rseq: the core's fast
// path needs the kernel's guarantee — nobody else touches this CPU's caches
// between gate.enter() and gate.leave() — and a claimed slot gives exactly
// that with portable code that ThreadSanitizer can follow (the claim is an
// acquire CAS, the give-back a release store). rseq would need per-CPU
// restartable assembly for every fast path and is invisible to TSan.
//
// Slot protocol (t_cpu_slot, g_slot_taken):
//   - a thread's first allocator call claims the lowest free slot with a CAS
//     (acq_rel) on g_slot_taken[i]; it owns slot i until it exits (a pthread
//     key destructor gives it back with a release store) or calls
//     set_this_thread_cpu();
//   - a thread that finds no free slot (below the slot limit, kMaxCpus
//     unless set_slot_limit() lowered it to the allocator's cpu_count) gets
//     PF_NO_CPU: the core serves it through each instance's shared, locked
//     cache (correct, slower), and tries again every kOverflowRetry-th slow
//     call, so a thread that started while every slot was taken gets one
//     once others have exited (a thread pool outliving a burst of threads);
//   - the claim publishes t_cpu_slot before pthread_setspecific(), so an
//     allocation that pthread_setspecific itself makes (glibc callocs a
//     second-level block for keys >= 32) finds the slot claimed instead of
//     claiming another one;
//   - fork: the child has one thread, so fork_child_reset_slots() gives back
//     every slot but the forking thread's (the caches stay intact);
//   - invariant: g_slot_taken[i] == 1 <=> exactly one live thread has
//     t_cpu_slot == i. A slot's caches outlive its owner; the next owner's
//     acquire CAS orders it after the previous owner's last operation.
// sync_cpus is membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED): a full barrier
// on every CPU running one of our threads (see kernel/mm/cpu_cache.hpp).
// Interrupts do not exist; irq_save is a no-op. fatal() prints to stderr and
// aborts, which is what death tests match. The log goes to stderr unless a
// test captures it (hosted.hpp).
#include <linux/membarrier.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>

#include "hosted.hpp"
#include "kernel/mm/pfalloc.h"
#include "kernel/mm/platform.hpp"
#include "kernel/mm/types.hpp"

namespace pf::hosted {
__thread unsigned t_cpu_slot __attribute__((tls_model(PF_HOSTED_TLS_MODEL))) = kSlotUnclaimed;
}  // namespace pf::hosted

namespace {
using pf::hosted::t_cpu_slot;
// No slot, for good: exiting, or set_this_thread_cpu failed (the hook says PF_NO_CPU).
constexpr unsigned kSlotNone = pf::kMaxCpus + 1;
constexpr unsigned kSlotOverflow = pf::kMaxCpus + 2;  // none free at the last try: try again later
// What cpu_id() may say without a slot: at or above kMaxCpus, below kCpuIdBound.
static_assert(pf::hosted::kSlotUnclaimed >= pf::kMaxCpus && kSlotNone < pf::kCpuIdBound &&
              kSlotOverflow < pf::kCpuIdBound && pf::hosted::kSlotUnclaimed < pf::kCpuIdBound);
static_assert(kSlotNone != kSlotOverflow && kSlotNone != pf::hosted::kSlotUnclaimed &&
              kSlotOverflow != pf::hosted::kSlotUnclaimed);
constexpr unsigned kOverflowRetry = 64;  // slow calls between two tries (a power of two)
__thread unsigned t_overflow_calls __attribute__((tls_model("initial-exec"))) = 0;
std::atomic<bool> g_slot_taken[pf::kMaxCpus];
std::atomic<unsigned> g_slot_limit{pf::kMaxCpus};  // slots claimed are below this
pthread_key_t g_slot_key;
pthread_once_t g_slot_key_once = PTHREAD_ONCE_INIT;
std::atomic<pf::hosted::LogSink> g_sink{nullptr};
std::atomic<void*> g_sink_context{nullptr};

void give_back(unsigned slot) { g_slot_taken[slot].store(false, std::memory_order_release); }

// Thread exit: the slot goes back; any later call of this thread (another
// key's destructor freeing memory, glibc freeing the thread's TLS) takes the
// shared path and never claims again. Overflow threads store kMaxCpus + 1.
void slot_destructor(void* value) {
  const auto slot = static_cast<unsigned>(reinterpret_cast<uintptr_t>(value) - 1);
  if (slot < pf::kMaxCpus && t_cpu_slot == slot) give_back(slot);
  t_cpu_slot = kSlotNone;
}

void make_slot_key() { pthread_key_create(&g_slot_key, slot_destructor); }

bool try_claim(unsigned slot) {
  bool expected = false;
  if (!g_slot_taken[slot].compare_exchange_strong(expected, true, std::memory_order_acq_rel))
    return false;
  pthread_once(&g_slot_key_once, make_slot_key);
  t_cpu_slot = slot;  // first: see "the claim publishes" above
  pthread_setspecific(g_slot_key, reinterpret_cast<void*>(uintptr_t{slot} + 1));
  return true;
}

void release_current() {
  const unsigned s = t_cpu_slot;
  if (s < pf::kMaxCpus) {
    pthread_setspecific(g_slot_key, nullptr);
    give_back(s);
  }
  t_cpu_slot = pf::hosted::kSlotUnclaimed;
}

// membarrier once registered; the mprotect fallback forces a TLB shootdown
// (an IPI, hence a barrier) on every CPU running this process.
std::atomic<int> g_membarrier{0};  // 0: not tried, 1: works, -1: unavailable
void membarrier_fallback() {
  static std::atomic<char*> page{nullptr};
  char* p = page.load();
  if (p == nullptr) {
    void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) pfalloc_hook_fatal("sync_cpus: neither membarrier nor mmap works");
    char* expected = nullptr;
    if (!page.compare_exchange_strong(expected, static_cast<char*>(m))) munmap(m, 4096);
    p = page.load();
  }
  mprotect(p, 4096, PROT_READ | PROT_WRITE);
  *reinterpret_cast<volatile char*>(p) = 1;
  mprotect(p, 4096, PROT_NONE);
}
}  // namespace

namespace pf::hosted {

LogSinkSlot set_log_sink(LogSinkSlot slot) {
  LogSinkSlot old{g_sink.load(), g_sink_context.load()};
  g_sink_context.store(slot.context);
  g_sink.store(slot.sink);
  return old;
}

bool set_this_thread_cpu(unsigned cpu) {
  release_current();
  if (try_claim(cpu % kMaxCpus)) return true;
  t_cpu_slot = kSlotNone;  // taken by a live thread: the shared path
  return false;
}

unsigned claim_slot() {
  const unsigned s = t_cpu_slot;
  if (s < kMaxCpus) return s;
  if (s == kSlotNone) return PF_NO_CPU;
  if (s == kSlotOverflow && (++t_overflow_calls & (kOverflowRetry - 1)) != 0) return PF_NO_CPU;
  const unsigned limit = g_slot_limit.load(std::memory_order_relaxed);
  for (unsigned i = 0; i < limit; ++i)
    if (!g_slot_taken[i].load(std::memory_order_relaxed) && try_claim(i)) return i;
  if (s != kSlotOverflow) {
    // The key's destructor must run for this thread too (a non-null value),
    // to stop the retries before glibc's last frees of the exiting thread:
    // a slot claimed then would never be given back.
    t_cpu_slot = kSlotOverflow;
    pthread_once(&g_slot_key_once, make_slot_key);
    pthread_setspecific(g_slot_key, reinterpret_cast<void*>(uintptr_t{kMaxCpus} + 1));
  }
  return PF_NO_CPU;
}

void set_slot_limit(unsigned n) {
  g_slot_limit.store(n == 0 || n > kMaxCpus ? kMaxCpus : n, std::memory_order_relaxed);
  pthread_once(&g_slot_key_once, make_slot_key);
}

unsigned slots_in_use() {
  unsigned n = 0;
  for (const auto& taken : g_slot_taken) n += taken.load(std::memory_order_relaxed) ? 1 : 0;
  return n;
}

void fork_child_reset_slots() {
  const unsigned mine = t_cpu_slot;
  for (unsigned i = 0; i < kMaxCpus; ++i)
    if (i != mine) g_slot_taken[i].store(false, std::memory_order_relaxed);
  // membarrier registration belongs to the parent's mm: register again.
  g_membarrier.store(0, std::memory_order_relaxed);
}

}  // namespace pf::hosted

extern "C" {

unsigned long pfalloc_hook_irq_save(void) { return 0; }
void pfalloc_hook_irq_restore(unsigned long) {}

void pfalloc_hook_cpu_relax(void) {
  // A spinning thread waits either for a holder running on another core,
  // which lets go within a few hundred cycles (a remote queue push, a
  // refill), or for one the OS preempted, which only a yield lets run (on
  // two cores with more threads than cores). So: a pause on most calls and
  // a yield on every kYieldEvery-th. Yielding on every call made each brief
  // contention a system call (the cross-thread page bench spent its time in
  // sched_yield). The count runs across waits; only its rate matters.
  constexpr unsigned kYieldEvery = 16;
  static thread_local unsigned spins = 0;
  if (++spins % kYieldEvery != 0) {
    __builtin_ia32_pause();
    return;
  }
  sched_yield();
}

unsigned int pfalloc_hook_cpu_id(void) { return pf::platform::cpu_id_claim(); }

void pfalloc_hook_sync_cpus(void) {
  int state = g_membarrier.load(std::memory_order_acquire);
  if (state == 0) {
    state = syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : -1;
    g_membarrier.store(state, std::memory_order_release);
  }
  if (state == 1 && syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0) return;
  membarrier_fallback();
}

// write(2), not stdio: this runs inside malloc when the LD_PRELOAD shim
// (hosted/preload) meets a misuse, where stdio may allocate or hold a lock.
void pfalloc_hook_fatal(const char* message) {
  size_t n = 0;
  while (message[n] != '\0') ++n;
  const struct iovec parts[] = {{const_cast<char*>("pfalloc fatal: "), 15},
                                {const_cast<char*>(message), n},
                                {const_cast<char*>("\n"), 1}};
  ssize_t ignored = writev(STDERR_FILENO, parts, 3);
  (void)ignored;
  std::abort();
}

void pfalloc_hook_log(const char* text, size_t length) {
  if (pf::hosted::LogSink sink = g_sink.load()) {
    sink(text, length, g_sink_context.load());
    return;
  }
  ssize_t ignored = write(STDERR_FILENO, text, length);
  (void)ignored;
}

}  // extern "C"
