# kernel.mk — the freestanding x86-64 kernel, and the QEMU boots that show and
# test it. Included by the top Makefile.
#
#   make kernel        build/kernel/pfalloc.elf (ELF64: gdb, GRUB via Multiboot2)
#                      and build/kernel/pfalloc32.elf (ELF32 copy: qemu -kernel, Multiboot1)
#   make run           boot it in QEMU with the command line `run`: the memory map,
#                      zones, buddyinfo, slabinfo, overheads and timings; exits 0
#                      Knobs: QEMU_MACHINE=q35 QEMU_MEM=512M QEMU_CPU= QEMU_EXTRA=
#                      KERNEL_CMDLINE=run (e.g. `make run QEMU_MACHINE=pc QEMU_MEM=6G`)
#   make test-kernel   the test kernel on several machines (part of `make test`):
#                      pc 128M, q35 3G (RAM above 4 GiB), pc 6G with -cpu max
#                      (1 GiB pages), q35 256M with a module, pc 256M with
#                      slab-debug; each passes only on QEMU exit code 33 AND a
#                      last serial line "N passed, 0 failed" with N > 0. Then
#                      boots that must go wrong in the agreed way: fail-demo
#                      (exit 35, names its case), fatal-demo (a double free with
#                      the default handler), fault-demo (write to text) and
#                      stack-overflow-demo (#DF on the IST stack), each exit 37.
#                      Logs: build/kernel/logs/NAME.log
#   make iso           a GRUB rescue ISO (Multiboot2, the ELF64 image) in
#                      build/kernel/pfalloc.iso, command line ISO_CMDLINE (default `run`);
#                      boot it with `make run-iso`; installs grub-pc-bin, grub-common,
#                      xorriso and mtools when missing
#   make test-iso      the test kernel booted by GRUB through Multiboot2, with a
#                      module (not part of `make test`: it needs GRUB installed)
#
# Objects live under $(BUILD)/kernel/, serial logs under $(BUILD)/kernel/logs/.

KERNEL_DIR := $(BUILD)/kernel
KERNEL_ELF := $(KERNEL_DIR)/pfalloc.elf
KERNEL_ELF32 := $(KERNEL_DIR)/pfalloc32.elf
KERNEL_LOGS := $(KERNEL_DIR)/logs

KERNEL_CXX_SRCS := $(sort $(wildcard kernel/mm/*.cpp kernel/boot/*.cpp kernel/arch/x86_64/*.cpp \
                                     kernel/rt/*.cpp kernel/*.cpp tests/conformance/*.cpp))
KERNEL_ASM_SRCS := $(sort $(wildcard kernel/arch/x86_64/*.S))
KERNEL_OBJS := $(patsubst %.cpp,$(KERNEL_DIR)/%.o,$(KERNEL_CXX_SRCS)) \
               $(patsubst %.S,$(KERNEL_DIR)/%.o,$(KERNEL_ASM_SRCS))

KERNEL_CXXFLAGS := -std=c++20 -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics \
  -fno-use-cxa-atexit -fno-stack-protector -fno-pic -fno-pie -mno-red-zone -mgeneral-regs-only \
  -mcmodel=kernel -fno-asynchronous-unwind-tables -nostdlib -O2 -g $(WARN) -I. \
  -Ikernel/arch/x86_64/hooks -MMD -MP \
  $(KERNEL_EXTRA_CXXFLAGS)
KERNEL_LDFLAGS := -static -no-pie -nostdlib -T linker/kernel.ld -Wl,-z,max-page-size=0x1000 \
  -Wl,--build-id=none -Wl,--no-warn-rwx-segments

$(KERNEL_DIR)/%.o: %.cpp
	@mkdir -p $(@D)
	$(CXX) $(KERNEL_CXXFLAGS) -c $< -o $@

$(KERNEL_DIR)/%.o: %.S
	@mkdir -p $(@D)
	$(CXX) -MMD -MP -I. -c $< -o $@

$(KERNEL_ELF): $(KERNEL_OBJS) linker/kernel.ld
	$(CXX) $(KERNEL_LDFLAGS) -o $@ $(KERNEL_OBJS) -lgcc

# qemu -kernel speaks Multiboot1, which QEMU accepts only from an ELF32.
$(KERNEL_ELF32): $(KERNEL_ELF)
	objcopy -O elf32-i386 $< $@

-include $(KERNEL_OBJS:.o=.d)

.PHONY: kernel run test-kernel qemu-deps iso
kernel: $(KERNEL_ELF) $(KERNEL_ELF32)

qemu-deps:
	$(call need_pkg,qemu-system-x86_64,qemu-system-x86)

QEMU_MACHINE ?= q35
QEMU_MEM ?= 512M
QEMU_CPU ?=
QEMU_EXTRA ?=
KERNEL_CMDLINE ?= run
RUN_TIMEOUT ?= 120
QEMU_RUN := kernel/run-qemu.sh

run: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	$(QEMU_RUN) -k $(KERNEL_ELF32) -c '$(KERNEL_CMDLINE)' -l $(KERNEL_LOGS)/run.log -t $(RUN_TIMEOUT) \
	  -e run -v -- -M $(QEMU_MACHINE) -m $(QEMU_MEM) $(if $(QEMU_CPU),-cpu $(QEMU_CPU)) $(QEMU_EXTRA)

# ---- test boots -------------------------------------------------------------
# Each boot is its own target, so `make -j2` runs two at a time; each has its
# own log and timeout.
KERNEL_TEST_TIMEOUT ?= 240
KERNEL_MODULE := $(KERNEL_DIR)/test-module.bin

# A module with awkward content and length: the ELF64 image plus 123 bytes.
$(KERNEL_MODULE): $(KERNEL_ELF)
	{ cat $<; head -c 123 $<; } > $@

kernel_boot = $(QEMU_RUN) -k $(KERNEL_ELF32) -l $(KERNEL_LOGS)/$(1).log -t $(KERNEL_TEST_TIMEOUT) -n $(1)

.PHONY: test-kernel-pc-128M test-kernel-q35-3G test-kernel-pc-6G test-kernel-module test-kernel-fail-demo
test-kernel-pc-128M: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,pc-128M) -c 'test' -e pass -- -M pc -m 128M
test-kernel-q35-3G: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,q35-3G) -c 'test' -e pass -- -M q35 -m 3G
# -cpu max offers 1 GiB pages, so this boot builds its direct map with them.
test-kernel-pc-6G: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,pc-6G) -c 'test' -e pass -- -m 6G -cpu max
# The module's expected CRC and length travel on its own command line; the
# kernel checks the bytes at boot and again after the tests.
test-kernel-module: kernel qemu-deps $(KERNEL_MODULE)
	@mkdir -p $(KERNEL_LOGS)
	@set -- $$(cksum < $(KERNEL_MODULE)); \
	  $(call kernel_boot,module) -c 'test expect-module' -e pass -- -M q35 -m 256M \
	    -initrd "$(KERNEL_MODULE) crc=$$1 len=$$2"
# Every case again with SLAB_DEBUG on every cache (the boot-time debug option).
.PHONY: test-kernel-slab-debug
test-kernel-slab-debug: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,slab-debug) -c 'test slab-debug' -e pass -- -M pc -m 256M
# A deliberately failing case: this boot must fail, and say which case failed.
test-kernel-fail-demo: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,fail-demo) -c 'test fail-demo' -e fail -f fail_demo -- -M pc -m 128M

# The default error handler is fatal in the kernel, and a CPU fault is
# reported (not a silent triple fault): both must end the run with code 37.
.PHONY: test-kernel-fatal-demo test-kernel-fault-demo
test-kernel-fatal-demo: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,fatal-demo) -c 'run fatal-demo' -e fatal \
	  -f '^\*\*\* pfalloc fatal: pfalloc: page-double-free' -- -M pc -m 128M
test-kernel-fault-demo: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,fault-demo) -c 'run fault-demo' -e fatal \
	  -f '^\*\*\* CPU exception 14 \(#PF page fault\) error=0x3 ' -- -M pc -m 128M

# A kernel stack overflow hits the guard page; the page fault cannot push its
# frame there, so the CPU raises #DF, which runs on its own stack (IST 1).
.PHONY: test-kernel-stack-overflow-demo
test-kernel-stack-overflow-demo: kernel qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	@$(call kernel_boot,stack-overflow-demo) -c 'run stack-overflow-demo' -e fatal \
	  -f '^\*\*\* CPU exception 8 \(#DF double fault\)' -- -M pc -m 128M

KERNEL_TEST_BOOTS := test-kernel-pc-128M test-kernel-q35-3G test-kernel-pc-6G test-kernel-module \
                     test-kernel-slab-debug test-kernel-fail-demo test-kernel-fatal-demo test-kernel-fault-demo \
                     test-kernel-stack-overflow-demo
test-kernel: $(KERNEL_TEST_BOOTS)
	@echo "==== test-kernel: all $(words $(KERNEL_TEST_BOOTS)) QEMU boots behaved as required"

TEST_PARTS += test-kernel

# ---- GRUB (Multiboot2) ----------------------------------------------------------
ISO_CMDLINE ?= run
KERNEL_ISO := $(KERNEL_DIR)/pfalloc.iso
KERNEL_TEST_ISO := $(KERNEL_DIR)/pfalloc-test.iso

.PHONY: iso-deps run-iso test-iso
iso-deps:
	$(call need_pkg,grub-mkrescue,grub-common)
	$(call need_pkg,/usr/lib/grub/i386-pc/multiboot2.mod,grub-pc-bin)
	$(call need_pkg,xorriso,xorriso)
	$(call need_pkg,mformat,mtools)

# $(1): image, $(2): kernel command line, $(3): module file or empty.
define make_iso
	rm -rf $(1).d && mkdir -p $(1).d/boot/grub
	cp $(KERNEL_ELF) $(1).d/boot/pfalloc.elf
	{ echo 'set timeout=0'; echo 'set default=0'; \
	  echo 'menuentry "pfalloc" {'; \
	  echo '  multiboot2 /boot/pfalloc.elf $(2)'; \
	  $(if $(3),set -- $$(cksum < $(3)); cp $(3) $(1).d/boot/module.bin; \
	    echo "  module2 /boot/module.bin crc=$$1 len=$$2";) \
	  echo '  boot'; echo '}'; } > $(1).d/boot/grub/grub.cfg
	grub-mkrescue -o $(1) $(1).d 2>$(1).log || { cat $(1).log; exit 1; }
endef

$(KERNEL_ISO): $(KERNEL_ELF) FORCE_ISO
	$(call make_iso,$@,$(ISO_CMDLINE),)
$(KERNEL_TEST_ISO): $(KERNEL_ELF) $(KERNEL_MODULE)
	$(call make_iso,$@,test expect-module,$(KERNEL_MODULE))
.PHONY: FORCE_ISO
FORCE_ISO:

iso: kernel iso-deps
	@$(MAKE) $(KERNEL_ISO)

run-iso: iso qemu-deps
	@mkdir -p $(KERNEL_LOGS)
	$(QEMU_RUN) -k $(KERNEL_ISO) -l $(KERNEL_LOGS)/run-iso.log -t $(RUN_TIMEOUT) -e run -v \
	  -- -M $(QEMU_MACHINE) -m $(QEMU_MEM) $(if $(QEMU_CPU),-cpu $(QEMU_CPU)) $(QEMU_EXTRA)

test-iso: kernel iso-deps qemu-deps
	@$(MAKE) $(KERNEL_TEST_ISO)
	@mkdir -p $(KERNEL_LOGS)
	@$(QEMU_RUN) -k $(KERNEL_TEST_ISO) -l $(KERNEL_LOGS)/grub-mb2.log -t $(KERNEL_TEST_TIMEOUT) \
	  -n grub-multiboot2 -e pass -- -M q35 -m 1G
