# misuse.mk — the misuse suite (tests/misuse): one small C program per misuse
# against the public C API, linked with the hosted libpfalloc.a the way an
# embedding kernel links pfalloc, each judged by run.sh against cases.tsv.
#
#   make test-misuse                    build every program and judge them all
#   make test-misuse MISUSE=kfree_double  one (or a few, space separated)
#
# Programs compile in parallel under make -j; they run JOBS at a time.
MISUSE_DIR := tests/misuse
MISUSE_SRCS := $(sort $(wildcard $(MISUSE_DIR)/*.c))
MISUSE_BIN := $(BUILD)/misuse
MISUSE_PROGS := $(patsubst $(MISUSE_DIR)/%.c,$(MISUSE_BIN)/%,$(MISUSE_SRCS))
MISUSE ?=
MISUSE_CFLAGS := -std=c11 -O1 -g -Wall -Wextra -Werror -Ikernel/mm -pthread

$(MISUSE_BIN)/%: $(MISUSE_DIR)/%.c $(MISUSE_DIR)/misuse.h kernel/mm/pfalloc.h $(BUILD)/host/libpfalloc.a | host-deps
	@mkdir -p $(@D)
	gcc $(MISUSE_CFLAGS) -c $< -o $@.o
	$(CXX) $@.o $(BUILD)/host/libpfalloc.a -pthread -o $@

.PHONY: test-misuse
test-misuse: $(MISUSE_PROGS)
	JOBS=$(JOBS) $(MISUSE_DIR)/run.sh $(MISUSE_BIN) $(MISUSE_DIR)/cases.tsv $(MISUSE)

TEST_PARTS += test-misuse
