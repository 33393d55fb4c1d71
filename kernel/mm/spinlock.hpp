// spinlock.hpp — the one lock the core uses: a test-and-test-and-set
// spinlock that masks interrupts on this CPU while held (so an interrupt
// handler that allocates cannot deadlock against its own CPU).
//
// Invariant: held == true exactly between lock() and unlock(); irq state is
// saved by the guard, not the lock, so nested locks restore in LIFO order.
#pragma once

#include <atomic>

#include "platform.hpp"

namespace pf {

class SpinLock {
 public:
  void lock() {
    for (;;) {
      if (!held_.exchange(true, std::memory_order_acquire)) return;
      while (held_.load(std::memory_order_relaxed)) platform::cpu_relax();
    }
  }
  void unlock() { held_.store(false, std::memory_order_release); }

 private:
  std::atomic<bool> held_{false};
};

// Masks interrupts, then takes the lock; undoes both on scope exit.
class LockGuard {
 public:
  explicit LockGuard(SpinLock& l) : lock_(l), irq_(platform::irq_save()) { lock_.lock(); }
  ~LockGuard() {
    lock_.unlock();
    platform::irq_restore(irq_);
  }
  LockGuard(const LockGuard&) = delete;
  LockGuard& operator=(const LockGuard&) = delete;

 private:
  SpinLock& lock_;
  unsigned long irq_;
};

}  // namespace pf
