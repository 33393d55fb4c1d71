// memview.hpp — `run` mode's picture of physical memory (issue 12): the
// "pfmap" dump (kernel/mm/memdump.hpp) printed on serial at boot and after a
// fragmenting workload, which tools/memsvg.py renders into
// build/kernel/memory.svg; and the checkpoint the gdb test stops at.
#pragma once

#include "kernel/kernel.hpp"

extern "C" {
// Called right after the boot dump and the report's buddyinfo were printed,
// with nothing allocated in between: a debugger stopped here (make test-gdb,
// kernel/gdb/pfalloc-gdb.py) must read the same buddyinfo as was printed.
// `where` names the point ("boot").
[[gnu::noinline]] void pf_debug_checkpoint(const char* where);
}

namespace pf::kernel {

// Prints the dump of the allocator as it is now, named `snapshot`, with the
// kernel's own reservations as marks (image, boot code, modules, boot info,
// page tables). Changes nothing.
void print_memory_dump(Kernel& k, const char* snapshot);

// The boot snapshot, then pf_debug_checkpoint("boot").
void show_memory_at_boot(Kernel& k);

// Fragments memory on purpose (pages kept at a pseudo-random ~1 in 5,
// a few order-2 blocks, kmalloc objects with every other one freed), prints
// the "after" snapshot while holding it, then frees everything again.
void show_memory_after_workload(Kernel& k);

}  // namespace pf::kernel
