# fuzz.mk — libFuzzer targets. Included by the top Makefile.
#
#   make test-fuzz       a short run of every fuzzer (FUZZ_TEST_SECONDS, 60 s
#                        each, FUZZ_TEST_SECONDS_NAME where set; part of
#                        `make test`)
#   make fuzz            long runs (FUZZ_SECONDS, 600 s each)
#   make fuzz-NAME       one long run of tests/fuzz/NAME_fuzz.cpp
#   make fuzz-merge      fold new inputs from the work corpus into the
#                        checked-in one (minimised), to commit by hand
#
# Adding a fuzzer: drop tests/fuzz/NAME_fuzz.cpp (defining
# LLVMFuzzerTestOneInput) and, optionally, seed inputs in
# tests/fuzz/corpus/NAME/. Nothing here needs editing, unless the code under
# test is outside libpfalloc (see acpi below) or the short run should not
# take FUZZ_TEST_SECONDS (set FUZZ_TEST_SECONDS_NAME).
#
# Every fuzzer is built with clang++ -fsanitize=fuzzer,address,undefined and
# linked against the core, boot and hosted sources compiled by clang with the
# same sanitizers (their own objects, under $(BUILD)/fuzz).
# A run reads the checked-in corpus tests/fuzz/corpus/NAME/ (never writes
# it) and writes what it finds to tests/fuzz/corpus-work/NAME/ (git-ignored).
# Crashes land in $(BUILD)/fuzz/artifacts/NAME/; the log of the last run of
# each fuzzer in $(BUILD)/fuzz/NAME.log. Reproduce a crash with
# `$(BUILD)/fuzz/NAME_fuzz CRASH-FILE`.

FUZZ_CXX ?= clang++
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_TEST_SECONDS ?= 60
# acpi_fuzz's search space is small (a few tables, one reader each): its
# short run is half the others' (30 s) so that make test grows by 30 s, not
# 60. Shell arithmetic, evaluated in the recipe: FUZZ_TEST_SECONDS=N halves too.
FUZZ_TEST_SECONDS_acpi ?= $$(( ($(FUZZ_TEST_SECONDS) + 1) / 2 ))
FUZZ_SECONDS ?= 600
# Extra libFuzzer flags, e.g. FUZZ_ARGS='-jobs=2 -workers=2' or '-max_len=8192'.
FUZZ_ARGS ?=
FUZZ_CORPUS_WORK := tests/fuzz/corpus-work

FUZZ_SRCS := $(sort $(wildcard tests/fuzz/*_fuzz.cpp))
FUZZERS := $(patsubst tests/fuzz/%_fuzz.cpp,%,$(FUZZ_SRCS))
FUZZ_BINS := $(patsubst %,$(FUZZ_DIR)/%_fuzz,$(FUZZERS))

FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CXXFLAGS := -std=c++20 -g -O1 $(WARN) -I. $(HOSTED_HOOKS) -pthread -MMD -MP $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(CORE_SRCS) $(BOOT_SRCS) $(HOSTED_SRCS))

.PHONY: test-fuzz fuzz fuzz-merge fuzz-deps $(addprefix fuzz-,$(FUZZERS)) \
        $(addprefix test-fuzz-,$(FUZZERS))
TEST_PARTS += test-fuzz

fuzz-deps:
	$(call need_pkg,$(FUZZ_CXX),clang)
	@if [ ! -e "$$($(FUZZ_CXX) -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]; then \
	  echo "==== installing libclang-rt-dev (needed: the libFuzzer runtime)"; \
	  $(APT_GET) update -q >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends \
	    libclang-rt-dev >/dev/null; \
	fi

# The code under test carries the coverage instrumentation that guides
# libFuzzer. The harnesses (decoder, reference model, oracle) do not: their
# comparisons would steer the search towards the oracle's own branches, and
# tracing them cost two thirds of memmap_fuzz's time.
$(FUZZ_DIR)/obj/%.o: %.cpp | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# Text formatting (warnings are logged by the thousand), the hosted glue and
# the verify() walks that ops_fuzz runs after every step (1.5x its time) are
# likewise left uninstrumented: new paths there are not new behaviour.
FUZZ_NO_COVERAGE := kernel/mm/text.cpp kernel/mm/page_verify.cpp kernel/mm/slab_stats.cpp $(HOSTED_SRCS)

$(FUZZ_DIR)/obj/tests/fuzz/%_fuzz.o: tests/fuzz/%_fuzz.cpp | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

$(patsubst %.cpp,$(FUZZ_DIR)/obj/%.o,$(FUZZ_NO_COVERAGE)): $(FUZZ_DIR)/obj/%.o: %.cpp | fuzz-deps
	@mkdir -p $(@D)
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -c $< -o $@

.PRECIOUS: $(FUZZ_DIR)/obj/%.o

$(FUZZ_DIR)/libpfalloc.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_DIR)/%_fuzz: $(FUZZ_DIR)/obj/tests/fuzz/%_fuzz.o $(FUZZ_DIR)/libpfalloc.a
	$(FUZZ_CXX) $(FUZZ_CXXFLAGS) -fsanitize=fuzzer $^ -pthread -o $@

# The firmware table readers are kernel code outside libpfalloc (the unit
# tests compile them in); acpi_fuzz links them as an instrumented object.
FUZZ_ACPI_OBJ := $(FUZZ_DIR)/obj/kernel/arch/x86_64/acpi.o
$(FUZZ_DIR)/acpi_fuzz: $(FUZZ_ACPI_OBJ)

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_ACPI_OBJ:.o=.d) $(patsubst %,$(FUZZ_DIR)/obj/tests/fuzz/%_fuzz.d,$(FUZZERS))

# $(call fuzz_run,NAME,SECONDS): one run; prints a summary, or the log's
# tail and the crash file on failure.
define fuzz_run
@mkdir -p $(FUZZ_CORPUS_WORK)/$(1) tests/fuzz/corpus/$(1) $(FUZZ_DIR)/artifacts/$(1)
@echo "==== fuzz $(1): $(2) s (log: $(FUZZ_DIR)/$(1).log)"
@if $(FUZZ_DIR)/$(1)_fuzz -max_total_time=$(2) -timeout=20 -print_final_stats=1 \
      -artifact_prefix=$(FUZZ_DIR)/artifacts/$(1)/ $(FUZZ_ARGS) \
      $(FUZZ_CORPUS_WORK)/$(1) tests/fuzz/corpus/$(1) >$(FUZZ_DIR)/$(1).log 2>&1; then \
  runs=$$(sed -n 's/^stat::number_of_executed_units: *//p' $(FUZZ_DIR)/$(1).log | tail -1); \
  secs=$$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' $(FUZZ_DIR)/$(1).log | tail -1); \
  cov=$$(grep -E '^#[0-9]+[[:space:]]+DONE' $(FUZZ_DIR)/$(1).log | tail -1 | \
         sed -E 's/.*(cov: [0-9]+ ft: [0-9]+ corp: [0-9]+\/[0-9]+[a-zA-Z]*).*/\1/'); \
  echo "==== fuzz $(1): passed, $$runs inputs in $$secs s, $$cov"; \
else \
  tail -n 60 $(FUZZ_DIR)/$(1).log; \
  echo "==== fuzz $(1): FAILED; crash input(s):"; ls -1 $(FUZZ_DIR)/artifacts/$(1)/; \
  echo "==== reproduce: $(FUZZ_DIR)/$(1)_fuzz <crash input>"; \
  exit 1; \
fi
endef

test-fuzz: $(addprefix test-fuzz-,$(FUZZERS))
	@echo "==== test-fuzz: $(words $(FUZZERS)) fuzzer(s) passed: $(FUZZERS)"

$(addprefix test-fuzz-,$(FUZZERS)): test-fuzz-%: $(FUZZ_DIR)/%_fuzz
	$(call fuzz_run,$*,$(or $(FUZZ_TEST_SECONDS_$*),$(FUZZ_TEST_SECONDS)))

fuzz: $(addprefix fuzz-,$(FUZZERS))

$(addprefix fuzz-,$(FUZZERS)): fuzz-%: $(FUZZ_DIR)/%_fuzz
	$(call fuzz_run,$*,$(FUZZ_SECONDS))

fuzz-merge: $(FUZZ_BINS)
	@for f in $(FUZZERS); do \
	  mkdir -p tests/fuzz/corpus/$$f $(FUZZ_CORPUS_WORK)/$$f; \
	  $(FUZZ_DIR)/$${f}_fuzz -merge=1 tests/fuzz/corpus/$$f $(FUZZ_CORPUS_WORK)/$$f \
	    >$(FUZZ_DIR)/$$f.merge.log 2>&1 || { tail -20 $(FUZZ_DIR)/$$f.merge.log; exit 1; }; \
	  echo "==== fuzz-merge $$f: $$(ls tests/fuzz/corpus/$$f | wc -l) inputs in tests/fuzz/corpus/$$f"; \
	done
