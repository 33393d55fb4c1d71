// percpu_stats_test.cpp — the per-CPU cache figures the kernel's reports
// print (PageAllocator::cpu_cached_frames, SlabAllocator::cpu_cached_objects):
// summed over the CPUs they equal the allocator's own totals, they grow on
// the CPU that freed, and a CPU index out of range reads 0.
#include <gtest/gtest.h>

#include <vector>

#include "kernel/mm/slab.hpp"
#include "tests/unit/slab_fixture.hpp"

namespace pf {
namespace {

using test::SlabFixture;

class PerCpuStats : public SlabFixture {
 protected:
  uint64_t frames_over_cpus() const {
    uint64_t n = 0;
    for (unsigned cpu = 0; cpu < kCpus; ++cpu) n += machine_->pages().cpu_cached_frames(cpu);
    return n;
  }
  uint64_t objects_over_cpus() const {
    uint64_t n = 0;
    for (unsigned cpu = 0; cpu < kCpus; ++cpu) n += slab_.cpu_cached_objects(cpu);
    return n;
  }
};

TEST_F(PerCpuStats, SumsMatchTheTotalsAndGrowOnFree) {
  PageAllocator& p = pages();
  EXPECT_EQ(p.cpu_cached_frames(kCpus), 0u);
  EXPECT_EQ(slab_.cpu_cached_objects(kCpus), 0u);
  EXPECT_EQ(frames_over_cpus(), p.counters().cached_frames);

  // Ten order-0 and three order-1 blocks freed: 16 frames more in the caches
  // (below every high-water mark, so nothing drains back to the zone).
  p.drain_cpu_caches();
  EXPECT_EQ(frames_over_cpus(), 0u);
  std::vector<PhysAddr> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back(p.alloc_pages(Order{0}, 0));
  std::vector<PhysAddr> pairs;
  for (int i = 0; i < 3; ++i) pairs.push_back(p.alloc_pages(Order{1}, 0));
  const uint64_t cached_before = frames_over_cpus();
  for (PhysAddr b : blocks) p.free_pages(b, Order{0});
  for (PhysAddr b : pairs) p.free_pages(b, Order{1});
  EXPECT_EQ(frames_over_cpus(), cached_before + 16);
  EXPECT_EQ(frames_over_cpus(), p.counters().cached_frames);

  // Objects: freed ones sit in this CPU's arrays until drained.
  std::vector<void*> objects;
  for (int i = 0; i < 20; ++i) objects.push_back(slab_.kmalloc(64, 0));
  const uint64_t objects_before = objects_over_cpus();
  for (void* o : objects) slab_.kfree(o);
  EXPECT_GE(objects_over_cpus(), objects_before + 1);
  uint64_t per_cache = 0;
  for (size_t i = 0; i < kKmallocClassCount; ++i)
    if (KmemCache* c = slab_.kmalloc_cache(i)) per_cache += slab_.stats(c).cpu_cached;
  EXPECT_EQ(objects_over_cpus(), per_cache) << "only kmalloc caches have objects cached here";
  slab_.shrink_all();
  EXPECT_EQ(objects_over_cpus(), 0u);
}

}  // namespace
}  // namespace pf
