/* spawn_rusage.c — runs one program and reports its wall time and peak RSS.
 *
 * Why not os.wait4 straight from the Python runner: Linux charges a process's
 * ru_maxrss with the resident size of the image it replaced at exec, so any
 * child of a 20 MiB Python reports at least 20 MiB (/bin/true included). This
 * launcher is linked statically and starts the program with posix_spawn
 * (vfork semantics), so what the program inherits is this launcher's few
 * hundred KiB, below the RSS of any dynamically linked program.
 *
 * Usage: spawn_rusage RESULT_FILE PROGRAM [ARG...]
 * stdin, stdout, stderr and the environment are passed through unchanged
 * (LD_PRELOAD reaches the program; the launcher, static, ignores it). Writes
 * "<wall ns> <ru_maxrss KiB> <raw wait status>" to RESULT_FILE and exits with
 * the program's exit code (128 + signal if it was killed); 127 if it could
 * not be started. */
#define _GNU_SOURCE
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: spawn_rusage RESULT_FILE PROGRAM [ARG...]\n");
        return 127;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid;
    int err = posix_spawnp(&pid, argv[2], NULL, NULL, argv + 2, environ);
    if (err) {
        fprintf(stderr, "spawn_rusage: %s: %s\n", argv[2], strerror(err));
        return 127;
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) {
        perror("spawn_rusage: wait4");
        return 127;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
    FILE *f = fopen(argv[1], "w");
    if (!f || fprintf(f, "%lld %ld %d\n", ns, ru.ru_maxrss, status) < 0 || fclose(f)) {
        perror("spawn_rusage: result file");
        return 127;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
