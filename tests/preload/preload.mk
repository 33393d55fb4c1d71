# tests/preload/preload.mk — real Debian programs on the LD_PRELOAD shim
# (issue 13, items 2 and 3). Included by the top Makefile. The workloads are
# defined once, in tests/preload/workloads.py, at two sizes: "test" (here)
# and "bench" (bench-real).
#
#   make test-preload     (part of `make test`) python3 (JSON, threads),
#                         perl, sort (plain and --parallel=2), awk, git, gcc
#                         (its output program runs under the shim too),
#                         xz -T2, sqlite3, tar | gzip, make -j2 of a small
#                         C project, a bash script, python3 lowering its
#                         own RLIMIT_AS (limits.py) and the project's
#                         8-thread C++ program, each
#                         run plain and with LD_PRELOAD=$(SHIM); stdout and
#                         exit statuses must be equal byte for byte. First it
#                         proves the shim is mapped (and, for pfalloc, prints
#                         PFALLOC_STATS), and that a malloc corrupting live
#                         blocks (corrupting_malloc.c) is caught
#   make test-preload SHIM=/usr/lib/x86_64-linux-gnu/libjemalloc.so.2
#                         the same against any other malloc library (how the
#                         harness itself is checked); PRELOAD="git xz" runs
#                         only those workloads
#   make bench-real       the workloads at bench size plus start-up cases,
#                         under glibc, jemalloc, mimalloc, tcmalloc and
#                         pfalloc, BENCH_REAL_ROUNDS interleaved rounds;
#                         wall-time and peak-RSS medians, ratios and MISSED
#                         targets, in $(BUILD)/bench-real/ (not in make test)
#   make bench-real-publish  copy the last run's tables (and the closing
#                         notes, tests/bench/results/real/notes.md, if any) to
#                         tests/bench/results/real/results.md, its chart to
#                         docs/bench-real.svg, and its compact table into the
#                         README's "Real programs" section
#
# Inputs are generated from fixed seeds into $(BUILD)/preload/inputs/.

# PRELOAD_DIR and PRELOAD_LIB come from hosted/preload/preload.mk (the
# Makefile includes it first).
PFALLOC_SHIM := $(PRELOAD_LIB)
SHIM ?= $(PFALLOC_SHIM)
PRELOAD ?=
PRELOAD_PROG := $(PRELOAD_DIR)/xthread_prog
PRELOAD_SPAWN := $(PRELOAD_DIR)/spawn_rusage
PRELOAD_CONTROL := $(PRELOAD_DIR)/corrupting_malloc.so
PRELOAD_PY := /usr/bin/python3
# With the project's own shim: build it and pass its GoogleTests first
# (p13-shim's `preload` and `test-preload-unit`), and demand its exit-time
# statistics (buddyinfo and slabinfo, then a clean pf_verify) under
# PFALLOC_STATS=1, which proves it is the allocator in use. Another SHIM is
# just run.
PRELOAD_IS_PFALLOC := $(filter libpfalloc.so,$(notdir $(SHIM)))
PRELOAD_SHIM_DEPS := $(if $(filter $(abspath $(PFALLOC_SHIM)),$(abspath $(SHIM))),preload test-preload-unit)
PRELOAD_STATS_ARGS := --stats-env PFALLOC_STATS=1 --stats-expect '^Node 0, zone' --stats-expect '^slabinfo - version' \
  --stats-expect '^verify: clean'
PRELOAD_STATS := $(if $(PRELOAD_IS_PFALLOC),$(PRELOAD_STATS_ARGS))

LIBDIR := /usr/lib/x86_64-linux-gnu
JEMALLOC_SO := $(LIBDIR)/libjemalloc.so.2
MIMALLOC_SO := $(LIBDIR)/libmimalloc.so.2
TCMALLOC_SO := $(LIBDIR)/libtcmalloc_minimal.so.4

.PHONY: preload-deps test-preload bench-real bench-real-deps bench-real-publish

preload-deps:
	$(call need_pkgs,$(PRELOAD_PY):python3 perl:perl awk:mawk git:git gcc:gcc g++:g++ xz:xz-utils \
	  sort:coreutils cmp:diffutils /usr/lib/x86_64-linux-gnu/libc.a:libc6-dev sqlite3:sqlite3 \
	  make:make tar:tar gzip:gzip bash:bash)

$(PRELOAD_PROG): tests/preload/xthread_prog.cpp | preload-deps
	@mkdir -p $(@D)
	$(CXX) -std=c++20 -O2 -g $(WARN) -pthread $< -o $@

# Static, so that the programs it starts inherit a tiny image (spawn_rusage.c says why).
$(PRELOAD_SPAWN): tests/preload/spawn_rusage.c | preload-deps
	@mkdir -p $(@D)
	gcc -std=c11 -O2 $(WARN) -static $< -o $@

# The negative control: the comparison must catch this malloc's damage.
$(PRELOAD_CONTROL): tests/preload/corrupting_malloc.c | preload-deps
	@mkdir -p $(@D)
	gcc -std=c11 -O2 $(WARN) -shared -fPIC $< -o $@

test-preload: $(PRELOAD_SHIM_DEPS) $(PRELOAD_PROG) $(PRELOAD_SPAWN) $(PRELOAD_CONTROL) | preload-deps
	$(PRELOAD_PY) tests/preload/test_preload.py --build $(PRELOAD_DIR) --shim $(SHIM) $(PRELOAD_STATS) \
	  $(if $(PRELOAD),,--control $(PRELOAD_CONTROL)) $(PRELOAD)

TEST_PARTS += test-preload

# ---- bench-real -------------------------------------------------------------
BENCH_REAL_OUT := $(BUILD)/bench-real
BENCH_REAL_ROUNDS ?= 5
BENCH_REAL_STARTUP_REPS ?= 21
BENCH_REAL_PUBLISHED := tests/bench/results/real/results.md
BENCH_REAL_SVG := docs/bench-real.svg
# bench-real measures $(SHIM) as pfalloc: the project's shim unless told otherwise.
BENCH_REAL_SHIM_DEPS := $(if $(filter $(abspath $(PFALLOC_SHIM)),$(abspath $(SHIM))),preload)

bench-real-deps:
	$(call need_pkgs,$(JEMALLOC_SO):libjemalloc2 $(MIMALLOC_SO):libmimalloc2.0 $(TCMALLOC_SO):libtcmalloc-minimal4)

bench-real: $(BENCH_REAL_SHIM_DEPS) $(PRELOAD_PROG) $(PRELOAD_SPAWN) bench-real-deps | preload-deps
	$(PRELOAD_PY) tests/preload/bench_real.py --out $(BENCH_REAL_OUT) --inputs $(PRELOAD_DIR) \
	  --rounds $(BENCH_REAL_ROUNDS) --startup-reps $(BENCH_REAL_STARTUP_REPS) \
	  --label "commit $$(git describe --always --dirty 2>/dev/null || echo '(no git)')" \
	  --alloc glibc= --alloc jemalloc=$(JEMALLOC_SO) --alloc mimalloc=$(MIMALLOC_SO) \
	  --alloc tcmalloc=$(TCMALLOC_SO) --alloc pfalloc=$(SHIM) $(PRELOAD)

bench-real-publish:
	@test -f $(BENCH_REAL_OUT)/results.md || { echo "run make bench-real first"; exit 1; }
	@mkdir -p $(dir $(BENCH_REAL_PUBLISHED))
	cat $(BENCH_REAL_OUT)/results.md $(wildcard tests/bench/results/real/notes.md) > $(BENCH_REAL_PUBLISHED)
	cp $(BENCH_REAL_OUT)/results.svg $(BENCH_REAL_SVG)
	$(PRELOAD_PY) tests/preload/bench_real.py --splice README.md $(BENCH_REAL_OUT)/readme.md
