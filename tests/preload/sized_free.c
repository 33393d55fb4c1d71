/* sized_free.c — C23's free_sized and free_aligned_sized, called through
 * the program's own declarations (glibc 2.36 declares and defines neither),
 * from a C program run with the shim preloaded (shim_test.cpp:
 * Shim.CSizedFrees...). The declarations are weak, so the program links
 * against a libc without them and the loader binds them to the preloaded
 * libpfalloc.so; without it they stay null and the program says so (exit 2).
 *
 * With no argument: every way the shim's allocation functions hand out a
 * block (malloc of every size path, calloc, realloc in place and moved,
 * aligned_alloc, memalign with a rounded alignment, posix_memalign, valloc,
 * pvalloc), each freed by the sized free with its request, and some with a
 * smaller size (what free() accepts, free_sized accepts); a slab object
 * freed by size is handed out again by malloc (it went back to this
 * thread's per-CPU arrays, and comes out once their pair of stacks turns). Prints "sized_free: ok" and exits 0, or names
 * each failed check and exits 1. With an argument: one misuse (the shim
 * aborts, naming it): wrong-size, wrong-size-big, wrong-size-aligned,
 * double-free, foreign. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

void free_sized(void *p, size_t size) __attribute__((weak));
void free_aligned_sized(void *p, size_t alignment, size_t size) __attribute__((weak));

#define KiB ((size_t)1024)
#define MiB (1024 * KiB)

static int failures;

/* Hides a pointer from the compiler, so no malloc/free pair is elided. */
static void *opaque(void *p) {
    __asm__ volatile("" : "+r"(p) : : "memory");
    return p;
}

static const size_t sizes[] = {0, 1, 8, 9, 16, 17, 24, 25, 100, 1000, 4095, 4096, 6000,
                               8192, 8193, 12000, 100000, 1 * MiB, 1 * MiB + 1, 3 * MiB,
                               4 * MiB + 1, 9 * MiB + 123};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* Mallocs n bytes until p comes back or 4096 tries are spent (the per-CPU
 * pair holds 1032 objects at most), then frees what it took by size: 1 if
 * p came back. */
static int comes_back(void *p, size_t n) {
    static void *taken[4096];
    size_t k = 0;
    int back = 0;
    while (k < COUNT(taken) && !back) {
        taken[k] = opaque(malloc(n));
        back = taken[k++] == p;
    }
    while (k > 0) free_sized(taken[--k], n);
    return back;
}

static void by_size(void) {
    for (size_t i = 0; i < COUNT(sizes); i++) {
        size_t n = sizes[i];
        char *p = opaque(malloc(n));
        CHECK(p != NULL);
        if (n) memset(p, 1, n);
        free_sized(p, n);
        if (n <= 8 * KiB) CHECK(comes_back(p, n));
        /* calloc's request is the product. */
        p = opaque(calloc(n / 4 + 1, 4));
        CHECK(p != NULL);
        free_sized(p, (n / 4 + 1) * 4);
        /* A smaller size than asked for: freed as free() frees it. */
        p = opaque(malloc(n));
        free_sized(p, n / 3);
    }
    free_sized(NULL, 10);
    free_aligned_sized(NULL, 64, 10);
}

static void after_realloc(void) {
    /* In place (still in its 256-byte object): the last size is the request. */
    char *p = opaque(malloc(200));
    char *q = opaque(realloc(p, 150));
    CHECK(q == p);
    free_sized(q, 150);
    /* Moved. */
    p = opaque(malloc(100));
    q = opaque(realloc(p, 5000));
    free_sized(q, 5000);
    /* A big block shrunk in place. */
    p = opaque(malloc(4 * MiB));
    q = opaque(realloc(p, 3 * MiB));
    CHECK(q == p);
    free_sized(q, 3 * MiB);
    /* A big block grown (it moves to a block 1.5x as large). */
    p = opaque(malloc(2 * MiB));
    q = opaque(realloc(p, 2 * MiB + 1));
    free_sized(q, 2 * MiB + 1);
}

static void aligned(void) {
    static const size_t aligns[] = {8, 16, 32, 64, 256, 4096, 8192, 65536, 2 * MiB, 8 * MiB};
    static const size_t asks[] = {1, 100, 5000, 200000, 3 * MiB};
    for (size_t a = 0; a < COUNT(aligns); a++)
        for (size_t s = 0; s < COUNT(asks); s++) {
            size_t al = aligns[a], n = asks[s];
            void *p = opaque(aligned_alloc(al, n));
            CHECK(p != NULL && ((size_t)p & (al - 1)) == 0);
            free_aligned_sized(p, al, n);
            /* free_sized of an aligned block: not C23's pairing, but a size
             * up to the usable one is accepted, as free() accepts it. */
            p = opaque(aligned_alloc(al, n));
            free_sized(p, n);
            CHECK(posix_memalign(&p, al, n) == 0);
            free_aligned_sized(p, al, n);
        }
    /* memalign rounds 48 up to 64 (glibc 2.36); free_aligned_sized alike. */
    void *p = opaque(memalign(48, 100));
    CHECK(((size_t)p & 63) == 0);
    free_aligned_sized(p, 48, 100);
    p = opaque(valloc(100));
    free_sized(p, 100);
    p = opaque(pvalloc(5000));
    free_sized(p, 5000);
    p = opaque(aligned_alloc(2 * MiB, 100));  /* a big block for 100 bytes */
    free_aligned_sized(p, 2 * MiB, 100);
}

static int misuse(const char *what) {
    if (strcmp(what, "wrong-size") == 0) {
        free_sized(opaque(malloc(100)), 1000);
    } else if (strcmp(what, "wrong-size-big") == 0) {
        free_sized(opaque(malloc(3 * MiB)), 5 * MiB);
    } else if (strcmp(what, "wrong-size-aligned") == 0) {
        free_aligned_sized(opaque(aligned_alloc(64, 64)), 64, 128);
    } else if (strcmp(what, "double-free") == 0) {
        void *p = opaque(malloc(40));
        free_sized(p, 40);
        free_sized(p, 40);
    } else if (strcmp(what, "foreign") == 0) {
        int on_stack = 0;
        free_sized(opaque(&on_stack), sizeof on_stack);
    } else {
        fprintf(stderr, "unknown misuse %s\n", what);
        return 2;
    }
    fprintf(stderr, "sized_free: %s was not caught\n", what);
    return 1;
}

int main(int argc, char **argv) {
    if (!free_sized || !free_aligned_sized) {
        fprintf(stderr, "sized_free: free_sized is undefined: preload libpfalloc.so\n");
        return 2;
    }
    if (argc > 1) return misuse(argv[1]);
    by_size();
    after_realloc();
    aligned();
    if (failures) return 1;
    printf("sized_free: ok\n");
    return 0;
}
