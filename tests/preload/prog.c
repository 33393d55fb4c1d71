/* prog.c — the C program the gcc workload compiles (with the compiler under
 * test) and then runs (under test too): a string hash table grown by
 * realloc, words built with malloc and dropped with free, qsort, and one
 * printed summary. Generated functions (gen.c, made by workloads.py) are
 * linked in and called, so a bigger compile needs no committed input.
 * Usage: prog N */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned long gen_all(unsigned long x);

struct entry { char *key; unsigned long count; };
static struct entry *table;
static size_t cap, used;

static unsigned long hash(const char *s) {
    unsigned long h = 1469598103934665603UL;
    while (*s) h = (h ^ (unsigned char)*s++) * 1099511628211UL;
    return h;
}

static void grow(void) {
    struct entry *old = table;
    size_t oldcap = cap;
    cap = cap ? cap * 2 : 64;
    table = calloc(cap, sizeof *table);
    if (!table) exit(2);
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key) {
            size_t j = hash(old[i].key) & (cap - 1);
            while (table[j].key) j = (j + 1) & (cap - 1);
            table[j] = old[i];
        }
    free(old);
}

static void add(const char *w) {
    if (2 * (used + 1) > cap) grow();
    size_t j = hash(w) & (cap - 1);
    while (table[j].key && strcmp(table[j].key, w)) j = (j + 1) & (cap - 1);
    if (!table[j].key) { table[j].key = strdup(w); used++; }
    table[j].count++;
}

static int cmp(const void *a, const void *b) {
    const struct entry *x = a, *y = b;
    if (x->count != y->count) return x->count < y->count ? 1 : -1;
    return strcmp(x->key, y->key);
}

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 100000;
    unsigned long seed = 42, sum = 0;
    char *buf = NULL;
    size_t buflen = 0;
    for (long i = 0; i < n; i++) {
        seed = seed * 6364136223846793005UL + 1442695040888963407UL;
        size_t len = 1 + (seed >> 59);
        if (len + 1 > buflen) { buflen = 2 * (len + 1); buf = realloc(buf, buflen); }
        for (size_t k = 0; k < len; k++) buf[k] = "etaoinshrdlu"[(seed >> (3 * k % 48)) % 12];
        buf[len] = 0;
        add(buf);
        if (i % 1000 == 0) { char *tmp = malloc(4096 + i % 5000); memset(tmp, (int)i, 4096); sum += (unsigned char)tmp[100]; free(tmp); }
    }
    struct entry *all = malloc(used * sizeof *all);
    size_t k = 0;
    for (size_t i = 0; i < cap; i++) if (table[i].key) all[k++] = table[i];
    qsort(all, used, sizeof *all, cmp);
    printf("prog: %ld words, %zu distinct, top '%s' x%lu, ", n, used, used ? all[0].key : "-", used ? all[0].count : 0);
    for (size_t i = 0; i < used; i++) { sum = sum * 31 + all[i].count + hash(all[i].key); free(all[i].key); }
    printf("sum %lu, gen %lu\n", sum, gen_all(7));
    free(all); free(table); free(buf);
    return 0;
}
