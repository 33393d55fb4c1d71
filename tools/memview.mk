# tools/memview.mk — the physical-memory picture (issue 12). Included by the
# top Makefile after kernel/kernel.mk.
#
#   make memory-svg     render $(KERNEL_LOGS)/run.log (the last `make run`)
#                       into build/kernel/memory.svg; `make run` ends with it
#                       (one hook line in kernel/kernel.mk's run recipe)
#   make hosted-svg     the same picture for a hosted allocator: 256 MiB of a
#                       PC-like map through the benchmark's fragmentation
#                       workload (boot, fragmented, order-9 held), in
#                       build/memview/hosted-memory.svg
#   make memview-publish  copy both pictures to docs/ (what the README shows)
#   make test-memsvg    (part of `make test`) the renderer's tests on a
#                       captured kernel dump, and the hosted tool end to end
#                       on a small map; python3 standard library only
#
# The dump format ("pfmap" lines) is documented in kernel/mm/memdump.hpp,
# the renderer in tools/memsvg.py.

MEMSVG := python3 tools/memsvg.py
KERNEL_MEMORY_SVG := $(KERNEL_DIR)/memory.svg
MEMVIEW_DIR := $(BUILD)/memview
HOSTED_MEMDUMP := $(BUILD)/host/tools/hosted_memdump
HOSTED_MEMDUMP_OBJS := $(BUILD)/host/tools/hosted_memdump.o $(BUILD)/host/tests/bench/ours.o \
                       $(BUILD)/host/tests/bench/fixture.o
HOSTED_SVG_MIB ?= 256
HOSTED_SVG_PATTERN ?= clustered

.PHONY: memory-svg hosted-svg memview-publish test-memsvg python-deps

python-deps:
	$(call need_pkg,python3,python3)

# The machine is named from the QEMU command line the log begins with.
memory-svg: python-deps
	$(MEMSVG) --strict --title "pfalloc kernel: physical memory ($$(sed -n '1s/^# .*\(-M [^ ]*\).*\(-m [^ ]*\).*/\1 \2/p' $(KERNEL_LOGS)/run.log)), at boot and after the run's workload" \
	  $(KERNEL_LOGS)/run.log -o $(KERNEL_MEMORY_SVG)

# The bench headers pull in the peers' headers (bench-deps installs them).
$(HOSTED_MEMDUMP_OBJS): | bench-deps
$(HOSTED_MEMDUMP): $(HOSTED_MEMDUMP_OBJS) $(BUILD)/host/libpfalloc.a
	$(CXX) $(host_CXXFLAGS) $^ -lbenchmark $(HOST_LDLIBS) -o $@
-include $(HOSTED_MEMDUMP_OBJS:.o=.d)

hosted-svg: $(HOSTED_MEMDUMP) python-deps
	@mkdir -p $(MEMVIEW_DIR)
	$(HOSTED_MEMDUMP) --mib $(HOSTED_SVG_MIB) --pattern $(HOSTED_SVG_PATTERN) > $(MEMVIEW_DIR)/hosted.pfmap
	$(MEMSVG) --strict --title "pfalloc hosted: $(HOSTED_SVG_MIB) MiB, fragmentation workload ($(HOSTED_SVG_PATTERN)): boot, half freed, order-9 blocks taken" \
	  $(MEMVIEW_DIR)/hosted.pfmap -o $(MEMVIEW_DIR)/hosted-memory.svg

memview-publish: hosted-svg
	@test -s $(KERNEL_MEMORY_SVG) || { echo "run 'make run' first"; exit 1; }
	mkdir -p docs
	cp $(KERNEL_MEMORY_SVG) docs/kernel-memory.svg
	cp $(MEMVIEW_DIR)/hosted-memory.svg docs/hosted-memory.svg

test-memsvg: $(HOSTED_MEMDUMP) python-deps
	@mkdir -p $(MEMVIEW_DIR)
	python3 tools/test_memsvg.py
	$(HOSTED_MEMDUMP) --mib 64 --pattern scattered > $(MEMVIEW_DIR)/test-hosted.pfmap
	$(MEMSVG) --strict $(MEMVIEW_DIR)/test-hosted.pfmap -o $(MEMVIEW_DIR)/test-hosted.svg
	python3 tools/test_memsvg.py --check-svg $(MEMVIEW_DIR)/test-hosted.svg boot fragmented order-9

TEST_PARTS += test-memsvg
