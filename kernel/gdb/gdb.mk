# kernel/gdb/gdb.mk — debugging the kernel with gdb (issue 12). Included by
# the top Makefile after kernel/kernel.mk.
#
#   make debug      boot the kernel (command line KERNEL_CMDLINE, default `run`)
#                   in QEMU paused behind its gdb stub on port DEBUG_PORT
#                   (default 1234), serial on the terminal; prints the gdb
#                   command that attaches with the pf-* commands loaded
#                   (kernel/gdb/pfalloc-gdb.py)
#   make test-gdb   (part of `make test`) boot `run` under the gdb stub, stop at
#                   pf_debug_checkpoint and check pf-buddyinfo / pf-slabinfo
#                   against the kernel's own text, pf-zones and pf-frame for
#                   sanity (kernel/gdb/test_gdb.py); logs in build/kernel/logs/
#
# gdb reads the ELF64 (symbols); QEMU boots its ELF32 copy, same addresses.

GDB_SCRIPT := kernel/gdb/pfalloc-gdb.py
DEBUG_PORT ?= 1234
DEBUG_TIMEOUT ?= 3600
TEST_GDB_TIMEOUT ?= 240

.PHONY: debug test-gdb gdb-deps
gdb-deps:
	$(call need_pkgs,gdb:gdb python3:python3)

debug: kernel qemu-deps gdb-deps
	@mkdir -p $(KERNEL_LOGS)
	@echo "==== QEMU is paused at the first instruction, gdb stub on tcp::$(DEBUG_PORT). Attach with:"
	@echo "  gdb $(KERNEL_ELF) -ex 'source $(GDB_SCRIPT)' -ex 'target remote :$(DEBUG_PORT)' \\"
	@echo "      -ex 'hbreak pf_debug_checkpoint' -ex continue"
	@echo "  then: pf-buddyinfo, pf-zones, pf-slabinfo, pf-frame ADDR (help pf-frame); end with 'kill' in gdb (or Ctrl-C here)"
	-$(QEMU_RUN) -k $(KERNEL_ELF32) -c '$(KERNEL_CMDLINE)' -l $(KERNEL_LOGS)/debug.log -t $(DEBUG_TIMEOUT) \
	  -e run -v -- $(QEMU_RUN_ARGS) -gdb tcp::$(DEBUG_PORT) -S

test-gdb: kernel qemu-deps gdb-deps
	@mkdir -p $(KERNEL_LOGS)
	python3 kernel/gdb/test_gdb.py --elf64 $(KERNEL_ELF) --elf32 $(KERNEL_ELF32) --log $(KERNEL_LOGS) \
	  --timeout $(TEST_GDB_TIMEOUT)

TEST_PARTS += test-gdb
