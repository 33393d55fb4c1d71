# preload.mk — the LD_PRELOAD malloc (issue 13): `make preload` builds
# $(BUILD)/preload/libpfalloc.so from the core, hosted/platform.cpp and
# hosted/preload/*.cpp; `make test-preload-unit` runs the shim's GoogleTests
# (tests/preload/shim_test.cpp) with the library preloaded, and the test
# programs it runs (tests/preload/sized_free.c, sized_replaced.cpp).
#
# Flags: position independent, every symbol hidden but the malloc family
# (PF_EXPORT in malloc.cpp), the sized deletes (delete.cpp) and
# pfalloc_preload_get_info, initial-exec TLS
# (the library's TLS is static: it is loaded at start-up), no exceptions or
# RTTI, and linked with gcc, not g++: the library needs no C++ runtime (the
# link fails on any stray libstdc++ symbol: -Wl,--no-undefined).

PRELOAD_DIR := $(BUILD)/preload
PRELOAD_LIB := $(PRELOAD_DIR)/libpfalloc.so
PRELOAD_SRCS := $(CORE_SRCS) hosted/platform.cpp $(sort $(wildcard hosted/preload/*.cpp))
PRELOAD_OBJS := $(patsubst %.cpp,$(PRELOAD_DIR)/obj/%.o,$(PRELOAD_SRCS))
PRELOAD_CXXFLAGS := -std=c++20 -O2 -g $(WARN) -I. $(HOSTED_HOOKS) -pthread -MMD -MP $(BRANCH_ALIGN) \
  -fPIC -fvisibility=hidden -fvisibility-inlines-hidden -ftls-model=initial-exec \
  -fno-exceptions -fno-rtti -fno-threadsafe-statics -fno-plt $(EXTRA_CXXFLAGS)

PRELOAD_FLAGS_STAMP := $(call flags_stamp,$(PRELOAD_DIR)/obj/flags,$(PRELOAD_CXXFLAGS))
$(PRELOAD_DIR)/obj/%.o: %.cpp $(PRELOAD_FLAGS_STAMP)
	@mkdir -p $(@D)
	$(CXX) $(PRELOAD_CXXFLAGS) -c $< -o $@

$(PRELOAD_LIB): $(PRELOAD_OBJS)
	gcc -shared -pthread -Wl,--no-undefined -Wl,-z,now -Wl,-z,nodelete -o $@ $^
	@if nm -D --undefined-only $@ | grep -E ' (_Z|__gxx|__cxa_(pure|guard|throw|begin|end|allocate|rethrow|bad))' ; then \
	  echo "$@ depends on the C++ runtime"; exit 1; fi

.PHONY: preload test-preload-unit
preload: $(PRELOAD_LIB)

PRELOAD_TEST := $(PRELOAD_DIR)/shim_test
# The suite compares pointers after realloc and frees bad pointers on purpose.
PRELOAD_TEST_CXXFLAGS := $(HOST_CXXFLAGS) -Wno-use-after-free -Wno-free-nonheap-object -fno-builtin
$(PRELOAD_DIR)/tests/%.o: tests/preload/%.cpp | host-deps
	@mkdir -p $(@D)
	$(CXX) $(PRELOAD_TEST_CXXFLAGS) -c $< -o $@
# Linked against nothing of pfalloc: the allocator under test is the one
# preloaded, reached through malloc & co. (and dlsym for its info call).
$(PRELOAD_TEST): $(PRELOAD_DIR)/tests/shim_test.o
	$(CXX) $(HOST_CXXFLAGS) $^ -lgtest -lgtest_main $(HOST_LDLIBS) -ldl -o $@

# Programs the suite runs beside it (Shim.CSizedFrees*, Shim.SizedDelete*):
# C calling C23's free_sized/free_aligned_sized through its own (weak)
# declarations (glibc 2.36 defines neither: only the preloaded shim does),
# and C++ replacing the unsized delete only.
PRELOAD_SIZED_FREE := $(PRELOAD_DIR)/sized_free
PRELOAD_SIZED_REPLACED := $(PRELOAD_DIR)/sized_replaced
# And C++ defining the malloc family itself (Shim.SizedDeleteReachesAProgramsOwnFree).
PRELOAD_OWN_MALLOC := $(PRELOAD_DIR)/own_malloc
# Fork handlers that allocate, registered before the first malloc
# (Shim.ForkHandlersThatAllocateBeforeTheFirstMalloc).
PRELOAD_ATFORK_FIRST := $(PRELOAD_DIR)/atfork_first
$(PRELOAD_SIZED_FREE): tests/preload/sized_free.c tests/preload/check.h
	@mkdir -p $(@D)
	gcc -std=gnu11 -O2 -g $(WARN) $< -o $@
$(PRELOAD_SIZED_REPLACED): tests/preload/sized_replaced.cpp tests/preload/check.h tests/preload/sized_deletes.hpp
	@mkdir -p $(@D)
	$(CXX) -std=c++20 -O2 -g $(WARN) $< -ldl -o $@

$(PRELOAD_ATFORK_FIRST): tests/preload/atfork_first.c tests/preload/check.h
	@mkdir -p $(@D)
	gcc -std=gnu11 -O2 -g $(WARN) -pthread $< -o $@

$(PRELOAD_OWN_MALLOC): tests/preload/own_malloc.cpp tests/preload/check.h tests/preload/sized_deletes.hpp
	@mkdir -p $(@D)
	$(CXX) -std=c++20 -O2 -g $(WARN) $< -ldl -o $@

# The suite pins down the shim's defaults (window size, slot count): the
# caller's own PFALLOC_* settings are not passed on (PFALLOC_CPUS=1 or a
# small PFALLOC_MEMORY made tests fail that are right by default). Helpers
# that want a setting set it themselves.
PRELOAD_ENV_VARS := PFALLOC_CPUS PFALLOC_MEMORY PFALLOC_STATS
test-preload-unit: $(PRELOAD_LIB) $(PRELOAD_TEST) $(PRELOAD_SIZED_FREE) $(PRELOAD_SIZED_REPLACED) $(PRELOAD_OWN_MALLOC) \
  $(PRELOAD_ATFORK_FIRST)
	env $(addprefix -u ,$(PRELOAD_ENV_VARS)) LD_PRELOAD=$(abspath $(PRELOAD_LIB)) $(PRELOAD_TEST) --gtest_brief=1

-include $(PRELOAD_OBJS:.o=.d) $(PRELOAD_DIR)/tests/shim_test.d
