/* atfork_first.c — run by Shim.ForkHandlersThatAllocateBeforeTheFirstMalloc:
 * a program that registers fork handlers which allocate (prepare, parent
 * and child) before its first malloc, as glibc allows (its malloc's fork
 * handling is not an atfork handler). The shim registered its own handlers
 * at the first malloc, after these: its prepare ran first and took every
 * lock, and the program's prepare then waited for them (a deadlock); with a
 * thread running, a first malloc inside the program's prepare handler
 * registered the shim's while glibc held its handler lock (a deadlock too).
 *
 * argv[1]: "first-in-prepare" (a thread, no malloc before the first fork),
 * "malloc-first" (a thread, a malloc before it), "single" (no thread, a
 * malloc before). Forks 20 times; each child allocates and exits 0.
 * alarm(20): a deadlock fails the run instead of hanging the suite.
 * Prints "atfork_first: ok" at the end. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

static int failures;
static char* volatile in_prepare;
static volatile int prepares, parents, children;

static void prepare(void) {
  in_prepare = malloc(100);
  strcpy(in_prepare, "prepared");
  prepares++;
}
static void parent(void) {
  free(in_prepare);
  in_prepare = NULL;
  char* volatile p = malloc(5000);
  p[0] = 1;
  free(p);
  parents++;
}
static void child(void) {
  char* volatile c = malloc(3 << 20);  /* a big block too */
  c[0] = 1;
  if (strcmp(in_prepare, "prepared") != 0) _exit(3);
  free(c);
  free(in_prepare);
  in_prepare = NULL;
  children++;
}

static void* idle(void* arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "first-in-prepare";
  alarm(20);
  if (pthread_atfork(prepare, parent, child) != 0) return 2;
  if (strcmp(mode, "single") != 0) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle, NULL) != 0) return 2;
  }
  if (strcmp(mode, "first-in-prepare") != 0) {
    char* volatile x = malloc(10);
    x[0] = 1;
    free(x);
  }
  for (int i = 0; i < 20; i++) {
    const pid_t pid = fork();
    if (pid == 0) {
      char* volatile y = malloc(1000);
      y[0] = 1;
      free(y);
      _exit(children == 1 ? 0 : 4);
    }
    CHECK(pid > 0);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  CHECK(prepares == 20 && parents == 20);
  if (failures == 0) printf("atfork_first: ok\n");
  return failures != 0;
}
