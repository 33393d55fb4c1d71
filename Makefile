# pfalloc — build and test entry points.
#
#   make test     every test: the README example, host unit tests (plain,
#                 ASan+UBSan, TSan), QEMU boots of the test kernel, short
#                 fuzz runs, and a smoke run of the benchmarks
#   make run      boot the kernel in QEMU and show the allocator at work
#   make bench    benchmarks side by side with other allocators
#   make fuzz     long fuzz runs
#   make stress   the long concurrent stress (plain, then ThreadSanitizer)
#   make preload  build/preload/libpfalloc.so, pfalloc as malloc (LD_PRELOAD)
#
# Tools the targets need are installed from Debian's packages when missing
# (need_pkg below); nothing here depends on something installed by hand.

.DEFAULT_GOAL := all
SHELL := /bin/bash
.SHELLFLAGS := -eo pipefail -c
.DELETE_ON_ERROR:

BUILD ?= build
# Jobs at once in `make test`: the CPUs nproc counts, but no more than a
# container's CPU quota and its memory allow (tools/jobs.sh).
JOBS ?= $(shell tools/jobs.sh 2>/dev/null || nproc 2>/dev/null || echo 2)
MAKEFLAGS += --no-print-directory

# ---- tools -----------------------------------------------------------------
# What a target needs is installed from Debian's packages when it is missing,
# so `make run` and `make test` work on a fresh Debian machine.
#   $(call need_pkgs,FILE:PACKAGE FILE:PACKAGE ...)   (a recipe line)
# checks each FILE (a command on PATH, or a path) and installs the packages
# of the missing ones with ONE apt-get install; `$(call need_pkg,FILE,PACKAGE)`
# is the one-pair form. `apt-get update` runs at most once per make run: the
# top-level make picks a run id (exported, so the sub-makes of `make test`
# share it) and APT_STAMP records the run that last updated. flock serialises
# recipes that install at the same time under -j (dpkg allows one at a time);
# the check is repeated under the lock, so what another recipe just installed
# is not installed twice.
APT_GET := $(if $(shell command -v sudo 2>/dev/null),$(if $(filter 0,$(shell id -u)),,sudo ))apt-get
ifndef PFALLOC_MAKE_RUN
export PFALLOC_MAKE_RUN := $(shell date +%s.%N)-$(shell echo $$PPID)
endif
APT_STAMP = $(BUILD)/.apt-updated
define need_pkgs
@missing() { \
  for pair in $(1); do \
    file=$${pair%%:*}; \
    command -v "$$file" >/dev/null 2>&1 || [ -e "$$file" ] || printf ' %s' "$${pair#*:}"; \
  done; \
}; \
if [ -n "$$(missing)" ]; then \
  mkdir -p $(BUILD); \
  ( flock 9; \
    pkgs=$$(missing); \
    [ -z "$$pkgs" ] && exit 0; \
    echo "==== installing$$pkgs"; \
    if [ "$$(cat $(APT_STAMP) 2>/dev/null)" != "$$PFALLOC_MAKE_RUN" ]; then \
      $(APT_GET) update -q >/dev/null && echo "$$PFALLOC_MAKE_RUN" > $(APT_STAMP); \
    fi && \
    DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends $$pkgs >/dev/null \
  ) 9>$(BUILD)/.apt.lock; \
fi
endef
need_pkg = $(call need_pkgs,$(strip $(1)):$(strip $(2)))

.PHONY: host-deps
host-deps:
	$(call need_pkgs,/usr/include/gtest/gtest.h:libgtest-dev g++:g++)

# ---- sources -------------------------------------------------------------
CORE_SRCS   := $(sort $(wildcard kernel/mm/*.cpp))
BOOT_SRCS   := $(sort $(wildcard kernel/boot/*.cpp))
HOSTED_SRCS := $(sort $(wildcard hosted/*.cpp))
UNIT_SRCS   := $(sort $(wildcard tests/unit/*.cpp tests/conformance/*.cpp))

WARN := -Wall -Wextra -Werror -Wno-missing-field-initializers
# The fast-path hooks are inline: each build puts the directory of its own
# pfalloc_hooks.hpp on the include path (see kernel/mm/platform.hpp).
HOSTED_HOOKS := -Ihosted/hooks
# No conditional branch crosses or ends at a 32-byte boundary (GNU as pads
# the instructions before it; Intel's mitigation for its JCC erratum).
# The object fast paths are a few dozen instructions with a dozen branches,
# and on the 2-core Intel Xeon VM that runs `make bench` their speed moved
# with code layout alone: the kmalloc+kfree_sized pair took 8.1 ns in one
# build and 5.0 ns with this flag, with the same instructions (callgrind);
# the other rows were unchanged. Every build of the core (hosted, preload,
# kernel) uses it; an embedder who builds the core with GCC can add it too.
# GCC hands it to GNU as; clang's integrated assembler refuses it through
# -Wa and takes it as a driver option instead (`make CXX=clang++ unit`).
CXX := g++
CXX_IS_CLANG := $(findstring clang,$(shell $(CXX) --version 2>/dev/null | head -n1))
BRANCH_ALIGN_GAS := -Wa,-mbranches-within-32B-boundaries
BRANCH_ALIGN := $(if $(CXX_IS_CLANG),-mbranches-within-32B-boundaries,$(BRANCH_ALIGN_GAS))
# Make tracks files, not flags: each object tree keeps the flags it was
# built with in a file of its own, rewritten (so newer) only when they
# change, and its objects depend on it. So a change of flags (BRANCH_ALIGN
# above, EXTRA_CXXFLAGS on the command line) rebuilds the tree instead of
# linking objects built the old way. $(file) reads and writes at parse time,
# with no shell quoting of the flags.
same_text = $(and $(findstring $(1),$(2)),$(findstring $(2),$(1)))
flags_stamp = $(1)$(if $(call same_text,$(strip $(file <$(1))),$(strip $(2))),,\
  $(shell mkdir -p $(dir $(1)))$(file >$(1),$(strip $(2))))
HOST_CXXFLAGS := -std=c++20 -g -O2 $(WARN) -I. $(HOSTED_HOOKS) -pthread -MMD -MP $(BRANCH_ALIGN) $(EXTRA_CXXFLAGS)
HOST_LDLIBS := -pthread

# One object tree per flavour of the hosted build.
define host_flavour
$(1)_CXXFLAGS := $$(HOST_CXXFLAGS) $(2)
$(1)_OBJS := $$(patsubst %.cpp,$$(BUILD)/$(1)/%.o,$$(CORE_SRCS) $$(BOOT_SRCS) $$(HOSTED_SRCS))
$(1)_UNIT_OBJS := $$(patsubst %.cpp,$$(BUILD)/$(1)/%.o,$$(UNIT_SRCS))
$(1)_FLAGS_STAMP := $$(call flags_stamp,$$(BUILD)/$(1)/flags,$$($(1)_CXXFLAGS))
$$(BUILD)/$(1)/%.o: %.cpp $$($(1)_FLAGS_STAMP)
	@mkdir -p $$(@D)
	$$(CXX) $$($(1)_CXXFLAGS) -c $$< -o $$@
$$(BUILD)/$(1)/libpfalloc.a: $$($(1)_OBJS)
	@rm -f $$@
	ar rcs $$@ $$^
$$($(1)_UNIT_OBJS): | host-deps
$$(BUILD)/$(1)/unit_tests: $$($(1)_UNIT_OBJS) $$(BUILD)/$(1)/libpfalloc.a
	$$(CXX) $$($(1)_CXXFLAGS) $$^ -lgtest -lgtest_main $$(HOST_LDLIBS) -o $$@
-include $$($(1)_OBJS:.o=.d) $$($(1)_UNIT_OBJS:.o=.d)
endef

# Through variables: $(call) would split -fsanitize=a,b at its comma.
ASAN_FLAGS := -O1 -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
TSAN_FLAGS := -O1 -fsanitize=thread -DPFALLOC_TSAN
$(eval $(call host_flavour,host,))
$(eval $(call host_flavour,asan,$(ASAN_FLAGS)))
$(eval $(call host_flavour,tsan,$(TSAN_FLAGS)))

.PHONY: host-deps all test test-host test-asan test-tsan test-readme unit run bench fuzz clean
all: $(BUILD)/host/unit_tests

unit test-host: $(BUILD)/host/unit_tests
	$(BUILD)/host/unit_tests --gtest_brief=1

test-asan: $(BUILD)/asan/unit_tests
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	  $(BUILD)/asan/unit_tests --gtest_brief=1

# ThreadSanitizer runs the suites that use threads.
TSAN_FILTER ?= *Concurren*:*Thread*:*Stress*
test-tsan: $(BUILD)/tsan/unit_tests
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
	  $(BUILD)/tsan/unit_tests --gtest_brief=1 --gtest_filter='$(TSAN_FILTER)'

# README's embedding recipe (tests/readme/readme.mk).
-include tests/readme/readme.mk

# JOBS's computation on faked machines and containers (seconds).
.PHONY: test-jobs
test-jobs:
	tools/jobs_test.sh
	@echo "JOBS here: $(JOBS)"

# Each area adds its own targets and its part of `make test`.
TEST_PARTS := host-deps test-jobs test-readme test-host test-asan test-tsan
-include tests/misuse/misuse.mk
-include hosted/preload/preload.mk
-include tests/preload/preload.mk
-include kernel/kernel.mk
-include tests/fuzz/fuzz.mk
-include tests/bench/bench.mk
-include tests/stress/stress.mk
-include tools/memview.mk
-include kernel/gdb/gdb.mk

# Parts run in order and stop at the first failure; the last line counts them.
test:
	@passed=0; \
	for t in $(TEST_PARTS); do \
	  echo "==== make $$t"; \
	  if ! $(MAKE) -j$(JOBS) $$t; then \
	    echo "==== FAILED: make $$t"; \
	    echo "parts: $$passed passed, 1 failed"; \
	    exit 1; \
	  fi; \
	  passed=$$((passed + 1)); \
	done; \
	echo "==== make test: all parts passed ($(TEST_PARTS))"; \
	echo "parts: $$passed passed, 0 failed"

clean:
	rm -rf $(BUILD)
