// global.hpp — the one allocator instance behind the C API (pfalloc.h).
//
// A kernel that sets up the allocator through the C++ classes (as
// kernel/main.cpp does, to keep its MemoryMap for reports and page tables)
// initialises these same instances, so alloc_pages()/kmalloc() work from C
// code in that kernel too. Hosted tests mostly build their own instances.
#pragma once

#include "page_alloc.hpp"
#include "slab.hpp"

namespace pf {

PageAllocator& global_pages();
SlabAllocator& global_slab();

// pf_init() in C++ form: normalises `map` (if it is not already), then
// initialises global_pages() and global_slab(). Returns a pf_status.
int init_global(MemoryMap& map, const PageAllocatorConfig& config, const SlabConfig& slab = {});

}  // namespace pf
