# tests/bench/bench.mk — benchmarks side by side with the peers (issue 6).
# Included by the top Makefile. Benchmarks are not tests: nothing here fails
# on a time. Targets:
#
#   make bench            every workload, medians of $(BENCH_REPS) randomly
#                         interleaved repetitions; raw JSON, Markdown table
#                         and SVG chart under $(BUILD)/bench/
#   make bench-callgrind  instructions per operation under callgrind (stable
#                         on a noisy machine); $(BUILD)/bench/callgrind/
#   make bench-smoke      every workload briefly, to prove it runs and that
#                         its checked properties hold (part of `make test`)
#   make bench-publish    copy the last `make bench` table (with the closing
#                         note, tests/bench/notes.md) and chart, and the last
#                         callgrind table, to tests/bench/results/ (what the
#                         README shows)
#
# BENCH_FLAGS passes more Google Benchmark flags, e.g.
#   make bench BENCH_FLAGS=--benchmark_filter=pages.pair

BENCH_OUT := $(BUILD)/bench
BENCH_SRCS := $(sort $(wildcard tests/bench/*.cpp))
BENCH_OBJS := $(patsubst %.cpp,$(BUILD)/host/%.o,$(BENCH_SRCS))
BENCH_BIN := $(BUILD)/host/pfalloc_bench
BENCH_REPS ?= 5
BENCH_MIN_TIME ?= 0.1
BENCH_FLAGS ?=
# libc comes first among the shared libraries so that the process-wide
# malloc (the harness's) is glibc's: mimalloc, jemalloc and tcmalloc each
# export `malloc` too. The workloads reach every peer by its own API.
BENCH_LDLIBS := -lbenchmark -Wl,--push-state,--no-as-needed -l:libc.so.6 -Wl,--pop-state \
  -lmimalloc -ljemalloc -ltcmalloc_minimal -ldl $(HOST_LDLIBS)

.PHONY: bench bench-deps bench-callgrind bench-smoke bench-publish

bench-deps:
	$(call need_pkg,/usr/include/benchmark/benchmark.h,libbenchmark-dev)
	$(call need_pkg,/usr/include/mimalloc.h,libmimalloc-dev)
	$(call need_pkg,/usr/include/jemalloc/jemalloc.h,libjemalloc-dev)
	$(call need_pkg,/usr/include/gperftools/tcmalloc.h,libgoogle-perftools-dev)
	$(call need_pkg,/usr/include/valgrind/callgrind.h,valgrind)

$(BENCH_OBJS): | bench-deps

# Every function of the benchmarks (the measured loops, with the fast paths
# inlined into them, and their out-of-line helpers) starts on a 64-byte
# boundary: their speed otherwise moves with the layout of code they do not
# run. (With the same instructions, a change that moved the bench's text by
# 32 bytes took the kmalloc+kfree_sized pair from 4.6 to 6.0 ns on the
# 2-core Intel Xeon VM, every other row unchanged; with functions aligned
# both builds took 4.6-4.7 ns. See also BRANCH_ALIGN in the Makefile.) A
# loop's place in its function still follows the code before it there.
# Callgrind's counts do not move: the padding lies between functions.
BENCH_ALIGN := -falign-functions=64
$(BENCH_OBJS): host_CXXFLAGS += $(BENCH_ALIGN)
$(BENCH_OBJS): tests/bench/bench.mk

$(BENCH_BIN): $(BENCH_OBJS) $(BUILD)/host/libpfalloc.a
	$(CXX) $(host_CXXFLAGS) $^ $(BENCH_LDLIBS) -o $@

-include $(BENCH_OBJS:.o=.d)

bench: $(BENCH_BIN)
	@mkdir -p $(BENCH_OUT)
	@echo "==== bench: load average before: $$(cut -d' ' -f1-3 /proc/loadavg)"
	$(BENCH_BIN) --benchmark_repetitions=$(BENCH_REPS) \
	  --benchmark_enable_random_interleaving=true \
	  --benchmark_display_aggregates_only=true \
	  --benchmark_min_time=$(BENCH_MIN_TIME) \
	  --benchmark_out=$(BENCH_OUT)/results.json --benchmark_out_format=json \
	  --report_dir=$(BENCH_OUT) --label="$$(git describe --always --dirty 2>/dev/null || echo '(no git)')" \
	  $(BENCH_FLAGS)

bench-callgrind: $(BENCH_BIN)
	@rm -rf $(BENCH_OUT)/callgrind && mkdir -p $(BENCH_OUT)/callgrind
	valgrind --tool=callgrind --callgrind-out-file=$(BENCH_OUT)/callgrind/callgrind.out \
	  $(BENCH_BIN) --callgrind_run 2> $(BENCH_OUT)/callgrind/valgrind.log \
	  || { tail -20 $(BENCH_OUT)/callgrind/valgrind.log; exit 1; }
	$(BENCH_BIN) --callgrind_report=$(BENCH_OUT)/callgrind:callgrind.out

# A few seconds: every workload once, briefly. Timings are ignored; the run
# fails only if a benchmark could not run or a property did not hold.
TEST_PARTS += bench-smoke
bench-smoke: $(BENCH_BIN)
	$(BENCH_BIN) --smoke --benchmark_min_time=0.002 --benchmark_repetitions=1 > $(BUILD)/bench-smoke.log 2>&1 \
	  || { cat $(BUILD)/bench-smoke.log; echo "bench-smoke: FAILED"; exit 1; }
	@grep -E "^(MISSED|met|ERROR)" $(BUILD)/bench-smoke.log | grep -E "oracle|descriptor|ERROR" || true
	@echo "bench-smoke: every workload ran; properties held"

bench-publish:
	@test -f $(BENCH_OUT)/results.md || { echo "run make bench first"; exit 1; }
	cat $(BENCH_OUT)/results.md tests/bench/notes.md > tests/bench/results/results.md
	cp $(BENCH_OUT)/results.svg tests/bench/results/results.svg
	if [ -f $(BENCH_OUT)/callgrind/results.md ]; then \
	  cp $(BENCH_OUT)/callgrind/results.md tests/bench/results/callgrind.md; \
	  cp $(BENCH_OUT)/callgrind/results.svg tests/bench/results/callgrind.svg; fi
