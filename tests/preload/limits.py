"""limits.py — the `limits` workload of make test-preload: a program and
the kernel's memory limits, where an allocator that reserves address space
up front (the shim's window) differs from glibc's mmap per block.

1. The program lowers its own RLIMIT_AS (as resource.setrlimit recipes do),
   then starts a thread, maps a file and allocates: every step must work as
   under glibc, and a request above the limit must be MemoryError. (The
   shim's window, reserved before the limit, once counted against it whole:
   "can't start new thread".)
2. Under the kernel's default overcommit heuristic (vm.overcommit_memory=0)
   one mapping larger than RAM + swap is refused, so glibc's malloc of that
   much is NULL; the shim must say NULL too. Asked through ctypes and never
   touched, so an allocator that grants it costs nothing here.

Prints one line per check; the output must be equal plain and preloaded.
Debian's jemalloc fails the first check too (its reserved address space
leaves no room for the thread's stack under a 1 GiB limit) and mimalloc the
second (it grants the block): `make test-preload SHIM=...` reports both.
"""
import ctypes
import mmap
import os
import resource
import sys
import threading


def overcommit_check():
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            policy = f.read().strip()
    except OSError:
        policy = "0"
    if policy != "0":
        print("overcommit: policy %s, not checked" % policy)
        return
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    with open("/proc/meminfo") as f:
        swap = next(int(line.split()[1]) * 1024 for line in f if line.startswith("SwapTotal:"))
    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    p = libc.malloc(pages + swap + (64 << 20))
    print("overcommit: malloc(RAM + swap + 64 MiB) is", "NULL" if not p else "a block")
    libc.free(p)


def main():
    overcommit_check()
    limit = int(sys.argv[1]) << 20 if len(sys.argv) > 1 else 1 << 30
    data = [str(i) * 10 for i in range(100000)]      # the heap in use before the limit
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    out = []
    t = threading.Thread(target=lambda: out.append(sum(len(s) for s in data)))
    t.start()
    t.join()
    print("thread after the limit:", out[0])
    m = mmap.mmap(-1, 16 << 20)
    m[-1:] = b"x"
    print("mmap after the limit:", len(m))
    m.close()
    more = [bytes(1000) for _ in range(20000)]
    print("allocations after the limit:", len(more) * len(more[0]))
    try:
        bytearray(limit + (64 << 20))
        print("above the limit: allocated")
    except MemoryError:
        print("above the limit: MemoryError")


if __name__ == "__main__":
    main()
