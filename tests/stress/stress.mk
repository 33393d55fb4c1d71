# tests/stress/stress.mk — the concurrent stress of issue 9. Included by the
# top Makefile.
#
#   make test-stress   the short run (part of `make test`): plain,
#                      ASan+UBSan and ThreadSanitizer builds, seconds each
#   make stress        the long run: STRESS_OPS operations with
#                      STRESS_THREADS threads per wave in the plain build,
#                      then STRESS_TSAN_OPS under ThreadSanitizer
#
# The workload and its checks are described at the top of
# tests/stress/stress_test.cpp; the binary reads its size from
# PFALLOC_STRESS_OPS / _THREADS / _SEED and prints the seed to rerun a
# failure. Both tests (C API and C++ classes) run the full count.

STRESS_SRCS := $(sort $(wildcard tests/stress/*.cpp))
STRESS_OPS ?= 10000000
STRESS_THREADS ?= 12
STRESS_TSAN_OPS ?= 1000000
STRESS_TSAN_THREADS ?= 8
STRESS_TSAN_OPTIONS := halt_on_error=1:second_deadlock_stack=1

define stress_flavour
$$(patsubst %.cpp,$$(BUILD)/$(1)/%.o,$$(STRESS_SRCS)): | host-deps
$$(BUILD)/$(1)/stress_tests: $$(patsubst %.cpp,$$(BUILD)/$(1)/%.o,$$(STRESS_SRCS)) $$(BUILD)/$(1)/libpfalloc.a
	$$(CXX) $$($(1)_CXXFLAGS) $$^ -lgtest -lgtest_main $$(HOST_LDLIBS) -o $$@
-include $$(patsubst %.cpp,$$(BUILD)/$(1)/%.d,$$(STRESS_SRCS))
endef
$(eval $(call stress_flavour,host))
$(eval $(call stress_flavour,asan))
$(eval $(call stress_flavour,tsan))

.PHONY: test-stress stress
TEST_PARTS += test-stress
test-stress: $(BUILD)/host/stress_tests $(BUILD)/asan/stress_tests $(BUILD)/tsan/stress_tests
	time $(BUILD)/host/stress_tests --gtest_brief=1
	time ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 $(BUILD)/asan/stress_tests --gtest_brief=1
	time TSAN_OPTIONS=$(STRESS_TSAN_OPTIONS) $(BUILD)/tsan/stress_tests --gtest_brief=1

stress: $(BUILD)/host/stress_tests $(BUILD)/tsan/stress_tests
	time PFALLOC_STRESS_OPS=$(STRESS_OPS) PFALLOC_STRESS_THREADS=$(STRESS_THREADS) \
	  $(BUILD)/host/stress_tests --gtest_brief=1
	time TSAN_OPTIONS=$(STRESS_TSAN_OPTIONS) PFALLOC_STRESS_OPS=$(STRESS_TSAN_OPS) \
	  PFALLOC_STRESS_THREADS=$(STRESS_TSAN_THREADS) $(BUILD)/tsan/stress_tests --gtest_brief=1
