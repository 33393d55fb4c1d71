// platform.cpp — the hosted (Linux) definitions of the pfalloc hooks.
//
// A "CPU" is a thread slot: each thread takes the next slot on first use
// (round-robin over kMaxCpus), so threads spread over the per-CPU caches as
// they would over CPUs. Interrupts do not exist; irq_save is a no-op.
// fatal() prints to stderr and aborts, which is what death tests match.
// The log goes to stderr unless a test captures it (hosted.hpp).
#include <sched.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "hosted.hpp"
#include "kernel/mm/pfalloc.h"
#include "kernel/mm/types.hpp"

namespace {
std::atomic<unsigned> g_next_slot{0};
thread_local unsigned t_slot = ~0u;
std::atomic<pf::hosted::LogSink> g_sink{nullptr};
std::atomic<void*> g_sink_context{nullptr};
}  // namespace

namespace pf::hosted {

LogSinkSlot set_log_sink(LogSinkSlot slot) {
  LogSinkSlot old{g_sink.load(), g_sink_context.load()};
  g_sink_context.store(slot.context);
  g_sink.store(slot.sink);
  return old;
}

void set_this_thread_cpu(unsigned cpu) { t_slot = cpu % kMaxCpus; }

}  // namespace pf::hosted

extern "C" {

unsigned long pfalloc_hook_irq_save(void) { return 0; }
void pfalloc_hook_irq_restore(unsigned long) {}

void pfalloc_hook_cpu_relax(void) {
  // A spinning thread may be waiting for one that the OS preempted; on two
  // cores, yielding is what lets the holder run.
  sched_yield();
}

unsigned int pfalloc_hook_cpu_id(void) {
  if (t_slot == ~0u) t_slot = g_next_slot.fetch_add(1, std::memory_order_relaxed) % pf::kMaxCpus;
  return t_slot;
}

void pfalloc_hook_fatal(const char* message) {
  std::fprintf(stderr, "pfalloc fatal: %s\n", message);
  std::fflush(stderr);
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
