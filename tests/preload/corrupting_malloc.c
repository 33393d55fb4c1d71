/* corrupting_malloc.c — the negative control of `make test-preload`: a malloc
 * for LD_PRELOAD that is glibc's, except that every 1000th allocation of 64
 * bytes or more flips one bit in the middle of the previous such block (which
 * may still be live). A harness that passes with this library preloaded cannot
 * see a broken allocator; test_preload.py --control demands that it fails.
 * Not thread-safe on purpose beyond what it needs: the counters are atomic,
 * the damage is the point. */
#include <stdatomic.h>
#include <stddef.h>

extern void *__libc_malloc(size_t);

static atomic_ulong calls;
static _Atomic(unsigned char *) last;
static atomic_size_t last_size;

void *malloc(size_t size) {
    unsigned char *p = __libc_malloc(size);
    if (p && size >= 64) {
        if (atomic_fetch_add(&calls, 1) % 1000 == 999) {
            unsigned char *victim = atomic_load(&last);
            if (victim) victim[atomic_load(&last_size) / 2] ^= 0x10;
        }
        atomic_store(&last_size, size);
        atomic_store(&last, p);
    }
    return p;
}
