# SPDX-License-Identifier: GPL-2.0
#
# Host-side entry points. The kernel build itself is driven by
# scripts/build (Linux 7.3 with the series of patches/, the drivers of src/
# in-tree as mm/*.rs).

.PHONY: all setup build build-debug run check check-migrate check-mm check-selftests bench stress hw-costs deb run-debian check-debian clean distclean help

all: build

help:
	@echo "make run    build, boot the guest and show the feature working"
	@echo "make check  build the debug kernel and run every kselftest in the guest (ARCH=arm64: the arm64 guest, PAGE_SIZE=64k: with 64K pages)"
	@echo "make check-migrate  live migration of a guest whose host zeroes (1.5 min)"
	@echo "make check-mm  the kernel's mm selftests, features off vs on (15 min alone, more shared)"
	@echo "make check-selftests  the posted tools/testing/selftests/prezero, make install + run_kselftest.sh in one plain boot (4 min; last step of make check)"
	@echo "make bench  baseline vs pre-zeroed benchmark (same boot, ratios; BENCH_ARGS=\"--only qemu\" ...; ARCH=arm64)"
	@echo "make stress long torture run (10^6 checked allocations) on the debug kernel"
	@echo "make hw-costs  clearing costs of this machine's CPU, on the host (no guest; HW_COSTS_ARGS=...)"
	@echo "make deb    kernel (linux-image, linux-headers) and prezerod Debian packages in build/deb/"
	@echo "make run-debian  boot a Debian 12 guest with the packages, show prezerod running"
	@echo "make check-debian  test the packages in that guest (two boots; see README)"
	@echo "make setup  install what the build needs (idempotent)"
	@echo "make build  build the fast kernel, modules, tests and initramfs"

setup:
	scripts/setup

# ARCH=arm64: the cross-built guest (work in progress, see the README);
# PAGE_SIZE=64k (arm64 only): its 64K-page kernel.
ARCH_OPT = $(if $(ARCH),--arch $(ARCH)) $(if $(PAGE_SIZE),--page-size $(PAGE_SIZE))

build:
	scripts/build $(ARCH_OPT)

build-debug:
	scripts/build --debug $(ARCH_OPT)

run:
	scripts/run

check:
	scripts/check $(ARCH_OPT)

check-migrate:
	scripts/check $(ARCH_OPT) balloon_migrate

check-mm:
	scripts/check-mm

# CHECK_SELFTESTS_ARGS=--each-config: also the boots the tests need.
check-selftests:
	scripts/check-selftests $(CHECK_SELFTESTS_ARGS)

bench:
	scripts/bench $(ARCH_OPT) $(BENCH_ARGS)

stress:
	scripts/stress

deb:
	scripts/deb

run-debian:
	scripts/run-debian

check-debian:
	scripts/run-debian --check

# Runs on the host itself: the guests' TCG says nothing about store costs.
hw-costs:
	@mkdir -p build
	$${CC:-gcc} -O2 -Wall -Wextra -Werror tools/hw_costs.c -o build/hw_costs
	build/hw_costs $(HW_COSTS_ARGS)

clean:
	rm -rf build

# Also forget the cached kernel trees and builds.
distclean: clean
	rm -rf $${ZERO_PAGE_CACHE:-$$HOME/.cache/zero_page}
