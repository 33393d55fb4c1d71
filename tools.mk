# tools.mk — installs what a target needs from Debian's packages when it is
# missing, so `make run` and `make test` work on a fresh Debian machine.
# `$(call need_pkg,COMMAND-OR-FILE,PACKAGES)` is a recipe line.

APT_GET := $(if $(shell command -v sudo 2>/dev/null),$(if $(filter 0,$(shell id -u)),,sudo ))apt-get
define need_pkg
@if ! command -v $(1) >/dev/null 2>&1 && [ ! -e $(1) ]; then \
  echo "==== installing $(2) (needed: $(1))"; \
  $(APT_GET) update -q >/dev/null && \
  DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q --no-install-recommends $(2) >/dev/null; \
fi
endef

.PHONY: host-deps
host-deps:
	$(call need_pkg,/usr/include/gtest/gtest.h,libgtest-dev)
	$(call need_pkg,g++,g++)
