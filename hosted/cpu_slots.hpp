// cpu_slots.hpp — how many CPU slots a hosted process gets by default (the
// LD_PRELOAD shim's cpu_count, hosted/preload/heap.cpp), as a pure function
// of what the machine says, so that a unit test can put any machine in front
// of it (tests/unit/cpu_slot_test.cpp) and the shim only asks the kernel.
//
// The inputs: the answer of the raw sched_getaffinity(2) syscall into a mask
// of `mask_words` longs (the bytes it wrote, or a negative errno), and
// PFALLOC_CPUS as parsed (0: unset or unparsable). Why the affinity mask and
// not sysconf(_SC_NPROCESSORS_ONLN/CONF): a container with a cpuset, or
// `taskset`, runs the process on fewer CPUs than the machine has, and only
// the mask says so; the CPUs in it need not be numbered from 0 (a cpuset of
// CPU 1 only, or 4-7), so they are counted, not taken as the highest bit.
// A slot is an index, not a CPU number.
//
// Policy: PFALLOC_CPUS when set; else twice the CPUs of the mask (threads
// are not pinned, so more threads than CPUs run at once), at least
// kMinDefault; always at most kMaxCpus. When the mask cannot be read, the
// syscall failed: EINVAL means the kernel's mask (nr_cpu_ids bits) is
// larger than ours, a machine with more possible CPUs than mask_words * 64,
// far more than kMaxCpus; any other failure (a seccomp filter) says nothing.
// Both get kMaxCpus: a slot costs memory only once a thread has used it
// (slots are claimed lowest first), while too few slots put every thread
// beyond them on one locked cache.
#pragma once

#include <cstdint>

#include "kernel/mm/types.hpp"

namespace pf::hosted {

inline constexpr unsigned kMinDefaultSlots = 4;

constexpr unsigned default_cpu_slots(const unsigned long* mask, long affinity_answer, unsigned mask_words,
                                     uint64_t env_cpus) {
  if (env_cpus != 0) return env_cpus > kMaxCpus ? kMaxCpus : static_cast<unsigned>(env_cpus);
  if (affinity_answer <= 0) return kMaxCpus;
  // The kernel writes whole longs (its mask rounded up), never more than asked.
  uint64_t words = static_cast<uint64_t>(affinity_answer) / sizeof(unsigned long);
  if (words > mask_words) words = mask_words;
  uint64_t cpus = 0;
  for (uint64_t i = 0; i < words; ++i) cpus += static_cast<unsigned>(__builtin_popcountl(mask[i]));
  if (cpus == 0) cpus = 1;  // an empty mask cannot run us: read as one CPU
  const uint64_t slots = 2 * cpus;
  if (slots < kMinDefaultSlots) return kMinDefaultSlots;
  return slots > kMaxCpus ? kMaxCpus : static_cast<unsigned>(slots);
}

}  // namespace pf::hosted
