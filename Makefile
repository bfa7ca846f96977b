# SPDX-License-Identifier: GPL-2.0
#
# numahint: top-level targets.  Every target that needs something installed
# or built runs tools/setup first, which is idempotent and incremental.
#
#   make setup      apt sources and packages, guest kernels, QEMU (patched)
#   make demo       boot a guest with the device, show its state (main job)
#   make check      the whole test suite (what CI runs)
#   make modules    the guest module for every guest kernel, with W=1
#   make qemu       rebuild the patched QEMU after editing qemu-device/
#   make style      checkpatch on the driver and the QEMU device
#   make clean      remove module build output (the cache stays)
#   make deb        numahint-dkms .deb and source package in out/deb/, lintian
#   make rpm        numahint-dkms RPM and SRPM in out/rpm/, rpmlint
#   make qemu-patches  the device as a git format-patch series against
#                   pristine QEMU in out/qemu-patches/, checkpatch, git am;
#                   QEMU_PATCHES_FLAGS=--build also builds it (minutes)
#   make kernel-patches  the driver as a git format-patch series against
#                   Debian's linux-source-6.12 in out/kernel-patches/:
#                   checkpatch --strict, git am, and an in-tree W=1 build
#                   of the driver (~5 min the first time, then ~2)
#   make dkms-test  the .deb in a clean bookworm chroot: DKMS builds for 6.1
#                   and 6.12, and the 6.1 module boots with the device
#   make libvirt-test  Debian's libvirt (bookworm-backports) installed once;
#                   a TCG domain with the device under two session
#                   libvirtds: start, driver binding, stats, save/restore,
#                   migrate (TAP, ~1.5 min; also make check's libvirt suite)
#   make fuzz       the host-side fuzz target (selftests/host/fuzz/):
#                   its corpus replayed under ASan+UBSan, then libFuzzer
#                   for FUZZ_TIME seconds (60)
#   make sanitize   QEMU built with clang, ASan and UBSan in its own tree
#                   (an hour the first time), and the device's qtest
#                   run under it; the host unit tests under ASan+UBSan too
#   make fuzz-qemu  QEMU's generic-fuzz target on the device, from the same
#                   sanitizer build, for FUZZ_QEMU_TIME seconds (300)
#   make distclean  remove the cache too (downloads and QEMU build)

CACHE ?= $(or $(NUMAHINT_CACHE),$(CURDIR)/.cache)
export NUMAHINT_CACHE := $(CACHE)
KERNELS ?= 6.1 6.12

all: modules qemu

setup:
	tools/setup

qemu:
	tools/setup qemu

# One build tree per guest kernel, since Kbuild writes its output next to
# the sources: a copy of guest-driver/ and protocol/ under the cache.
modules:
	tools/setup apt kernels
	tools/build-module $(KERNELS)

demo: setup
	tools/numahint-demo

check: setup
	tools/run-tests

style:
	tools/setup apt checkpatch qemu
	tools/run-tests --suite style

clean:
	$(MAKE) -C guest-driver clean KDIR=/usr/src/linux-headers-$(notdir \
		$(realpath $(CACHE)/kernels/6.1))
	$(MAKE) -C selftests/numahint clean
	rm -rf $(CACHE)/build

distclean: clean
	rm -rf $(CACHE)

# Packaging: see docs/install.md.
QEMU_PATCHES_FLAGS ?=
KERNEL_PATCHES_FLAGS ?=

deb:
	tools/setup apt
	packaging/build-deb

rpm:
	tools/setup apt
	packaging/build-rpm

qemu-patches:
	tools/setup apt qemu
	packaging/qemu-patches --check $(QEMU_PATCHES_FLAGS)

kernel-patches:
	tools/setup apt linux-source
	packaging/kernel-patches --check $(KERNEL_PATCHES_FLAGS)

dkms-test: deb
	tools/setup
	packaging/dkms-test

# The device through libvirt: docs/install.md, "Through libvirt".
libvirt-test:
	tools/setup apt kernels qemu
	tools/libvirt-test

# Hardening: see docs/hardening.md.  Not part of `make check`, which runs
# only a short fuzz run (tools/run-tests' unit suite).
FUZZ_TIME ?= 60
FUZZ_QEMU_TIME ?= 300
SANITIZER_QEMU := selftests/host/fuzz/sanitizer-qemu

fuzz:
	$(MAKE) -C selftests/host/fuzz run FUZZ_TIME=$(FUZZ_TIME)

sanitize:
	tools/setup apt qemu
	$(MAKE) -s -C selftests/host/placement asan
	$(MAKE) -s -C selftests/host/fuzz replay
	$(SANITIZER_QEMU) build
	$(SANITIZER_QEMU) qtest

fuzz-qemu:
	tools/setup apt qemu
	$(SANITIZER_QEMU) build
	$(SANITIZER_QEMU) fuzz $(FUZZ_QEMU_TIME)

.PHONY: all setup qemu modules demo check style clean distclean
.PHONY: fuzz sanitize fuzz-qemu
.PHONY: deb rpm qemu-patches kernel-patches dkms-test libvirt-test
