# readme.mk — `make test-readme`: README's embedding recipe, followed to the
# letter. Included by the top Makefile.
#
# The compile lines are read from README (the block after
# <!-- embedding-compile -->, `-Imm` standing for kernel/mm), never copied
# here, so what is tested is what README says. Four builds of the core:
#   kernel   both lines, g++, with -fstack-protector-strong in front as the
#            compiler default some distributions have (Ubuntu's GCC): README's
#            flags must override it. The example, compiled as shown (C, then
#            as C++ with g++ and clang++, whose hooks must keep their C
#            names), is linked freestanding with this
#            core and tests/readme/embed_stubs.c (the kernel functions it
#            declares and the mem* functions README lists), -nostdlib and
#            -lgcc: a symbol the core needs that README does not list fails
#            the link; so does a global constructor.
#   hosted   the first line alone; the example is run in a hosted C program
#            (tests/readme/embed_hosted.c) linked with plain gcc, which checks
#            that each call does what README's comment beside it says.
#   clang    both lines with clang++ and README's substitution for clang
#            (when clang++ is installed; skipped with a line saying so).
# Every build is -Wall -Wextra -Werror (README says no warning). The objects
# are kept, so a rerun only relinks (the first run takes ~40 s on -j2).

README_DIR := $(BUILD)/readme
README_EXAMPLE := $(README_DIR)/embedding_example.c
README_WARN := -Wall -Wextra -Werror
README_CLANGXX ?= clang++
README_HAS_CLANG := $(shell command -v $(README_CLANGXX) 2>/dev/null)

# README's compile block: line 1 (up to `-c mm/*.cpp`) and line 2 (kernel only).
readme_compile_block = sed -n '/^<!-- embedding-compile -->$$/,/^```$$/p' README.md
README_LINE1 := $(shell $(readme_compile_block) | sed -n 's/^g++ \(.*\) -c mm\/\*\.cpp *\\$$/\1/p' | \
  sed 's/-Imm/-Ikernel\/mm/g')
README_LINE2 := $(shell $(readme_compile_block) | sed -n 's/^    \(-.*\)$$/\1/p')
README_KFLAGS := -O2 $(README_LINE2)
# README: with clang++, -mno-sse -mno-mmx in place of -mgeneral-regs-only.
README_CLANG_LINE2 := $(patsubst -mgeneral-regs-only,-mno-sse -mno-mmx,$(README_LINE2))
README_DISTRO_DEFAULTS := -fstack-protector-strong

# $(call readme_core,TREE,COMPILER,FLAGS): the core's objects in $(README_DIR)/TREE.
define readme_core
README_$(1)_FLAGS := $(3) $$(README_WARN) -MMD -MP
README_$(1)_OBJS := $$(patsubst kernel/mm/%.cpp,$$(README_DIR)/$(1)/%.o,$$(CORE_SRCS))
README_$(1)_STAMP := $$(call flags_stamp,$$(README_DIR)/$(1)/flags,$(2) $$(README_$(1)_FLAGS))
$$(README_DIR)/$(1)/%.o: kernel/mm/%.cpp $$(README_$(1)_STAMP)
	@mkdir -p $$(@D)
	$(2) $$(README_$(1)_FLAGS) -c $$< -o $$@
-include $$(README_$(1)_OBJS:.o=.d)
endef
$(eval $(call readme_core,kernel,$(CXX),$(README_DISTRO_DEFAULTS) $(README_LINE1) $(README_LINE2)))
$(eval $(call readme_core,hosted,$(CXX),$(README_LINE1)))
$(eval $(call readme_core,clang,$(README_CLANGXX),$(README_LINE1) $(README_CLANG_LINE2)))

README_FREESTANDING_LINK := -static -no-pie -nostdlib -Wl,-Ttext-segment=0xffffffff80000000 -Wl,-e,kernel_entry
# Compiled as C++, the example's hook definitions keep the C names the core
# calls (pfalloc.h declares them extern "C"); its own kernel functions become
# C++ names, so it is not linked with the C stubs.
README_C_HOOKS = @test "$$(nm $(1) | grep -c ' T pfalloc_hook_')" = 7 || \
  { echo "$(1): the seven hooks are not defined with C names"; nm $(1); exit 1; }
README_NO_CTORS = @! readelf -SW $(1) | grep -E '\.(init|fini)_array|\.ctors' || \
  { echo "the core needs global constructors, which README says it does not"; exit 1; }

.PHONY: test-readme readme-clang
test-readme: $(README_kernel_OBJS) $(README_hosted_OBJS) $(if $(README_HAS_CLANG),readme-clang)
	@$(if $(README_HAS_CLANG),true,echo "README embedding example: $(README_CLANGXX) not installed, its build skipped")
	@test -n "$(README_LINE1)" -a -n "$(README_LINE2)" || \
	  { echo "README.md has no two-line compile block after <!-- embedding-compile -->"; exit 1; }
	@mkdir -p $(README_DIR)
	sed -n '/^<!-- embedding-example -->$$/,/^```$$/p' README.md | sed '1,2d;$$d' > $(README_EXAMPLE)
	@test -s $(README_EXAMPLE) || { echo "README.md has no embedding example block"; exit 1; }
	gcc -std=c11 $(README_WARN) $(README_KFLAGS) -Ikernel/mm -c $(README_EXAMPLE) -o $(README_EXAMPLE:.c=.o)
	g++ -x c++ -std=c++20 $(README_WARN) $(README_KFLAGS) -Ikernel/mm -c $(README_EXAMPLE) -o $(README_DIR)/example_cxx.o
	gcc -std=c11 $(README_WARN) $(README_KFLAGS) -Ikernel/mm -c tests/readme/embed_stubs.c \
	  -o $(README_DIR)/embed_stubs.o
	gcc $(README_FREESTANDING_LINK) -o $(README_DIR)/embedded.elf $(README_EXAMPLE:.c=.o) \
	  $(README_DIR)/embed_stubs.o $(README_kernel_OBJS) -lgcc
	$(call README_C_HOOKS,$(README_DIR)/example_cxx.o)
	$(call README_NO_CTORS,$(README_DIR)/embedded.elf)
	@echo "README embedding example: $$(wc -l < $(README_EXAMPLE)) lines, compiles (C, and C++ with g++) and links freestanding with the core"
	gcc -O2 $(README_WARN) -Ikernel/mm -c $(README_EXAMPLE) -o $(README_DIR)/example_hosted.o
	gcc -O2 $(README_WARN) -Ikernel/mm -c tests/readme/embed_hosted.c -o $(README_DIR)/embed_hosted.o
	gcc -Wl,--wrap=pf_init,--wrap=alloc_pages,--wrap=kmalloc -o $(README_DIR)/embed_hosted \
	  $(README_DIR)/example_hosted.o $(README_DIR)/embed_hosted.o $(README_hosted_OBJS)
	$(README_DIR)/embed_hosted

readme-clang: $(README_clang_OBJS)
	@mkdir -p $(README_DIR)
	sed -n '/^<!-- embedding-example -->$$/,/^```$$/p' README.md | sed '1,2d;$$d' > $(README_DIR)/example_clang.c
	$(README_CLANGXX) -x c++ -std=c++20 $(README_WARN) -O2 $(README_CLANG_LINE2) -Ikernel/mm \
	  -c $(README_DIR)/example_clang.c -o $(README_DIR)/example_clangxx.o
	$(call README_C_HOOKS,$(README_DIR)/example_clangxx.o)
	clang -std=c11 $(README_WARN) $(README_KFLAGS) -Ikernel/mm -c $(README_DIR)/example_clang.c \
	  -o $(README_DIR)/example_clang.o
	clang -std=c11 $(README_WARN) $(README_KFLAGS) -Ikernel/mm -c tests/readme/embed_stubs.c \
	  -o $(README_DIR)/embed_stubs_clang.o
	gcc $(README_FREESTANDING_LINK) -o $(README_DIR)/embedded_clang.elf $(README_DIR)/example_clang.o \
	  $(README_DIR)/embed_stubs_clang.o $(README_clang_OBJS) -lgcc
	$(call README_NO_CTORS,$(README_DIR)/embedded_clang.elf)
	@echo "README embedding example: compiles as C++ with clang++, and links freestanding with the core built by clang++ with README's clang flags"
