/* check.h — the CHECK of the programs test-preload-unit runs under the shim
 * (sized_free.c, sized_replaced.cpp): a failed condition is printed with its
 * place and counted in the program's `failures`, and the run goes on. C and
 * C++. */
#pragma once
#include <stdio.h>

#define CHECK(c)                                                       \
  do {                                                                 \
    if (!(c)) {                                                        \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c);     \
      failures++;                                                      \
    }                                                                  \
  } while (0)
