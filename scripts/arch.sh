# SPDX-License-Identifier: GPL-2.0
#
# The guest architecture, shared by scripts/setup, scripts/build,
# scripts/vm-run and scripts/check (sourced, not run). x86_64 is the
# default and what "make check" runs; arm64 is work in progress (issue 22):
# cross-built with LLVM 19, booted with qemu-system-aarch64 -machine virt.
#
#   arch_select NAME    sets ZP_ARCH (x86_64 or arm64) and the variables
#                       below; a bad NAME exits 2 with a message naming
#                       $PROG
#   arch_option ...     "" for x86_64, "--arch arm64" otherwise: what to pass
#                       on to the next script
#   page_size_select SIZE
#                       sets ZP_PAGE_SIZE (4k, the default, or 64k); a bad
#                       SIZE exits 2
#   page_size_check     after the options: exits 2 unless the architecture
#                       has ZP_PAGE_SIZE (x86_64: 4k only; arm64: 4k, 64k)
#   page_size_option    "" for 4k, "--page-size 64k" otherwise (scripts/build,
#                       scripts/vm-run and scripts/check take it)

arch_select() {
	case "$1" in
	x86_64|x86-64|x86|amd64) ZP_ARCH=x86_64 ;;
	arm64|aarch64) ZP_ARCH=arm64 ;;
	*) echo "$PROG: error: --arch must be x86_64 or arm64, not '$1'" >&2
	   exit 2 ;;
	esac
	case "$ZP_ARCH" in
	x86_64)
		# make variables for the kernel build (none: the host's gcc)
		KMAKE_ARGS=()
		KIMAGE_TARGET=bzImage
		KIMAGE=arch/x86/boot/bzImage
		# C compiler of the guest's static programs
		TARGET_CC=gcc
		# Rust target of the guest's static tools, and what cargo needs
		# in its environment to link for it
		RUST_TARGET=x86_64-unknown-linux-gnu
		RUST_TARGET_ENV=
		QEMU_SYSTEM=qemu-system-x86_64
		# Debian architecture of the guest's busybox-static
		DEB_ARCH=amd64
		;;
	arm64)
		KMAKE_ARGS=(ARCH=arm64 LLVM=-19)
		KIMAGE_TARGET=Image
		KIMAGE=arch/arm64/boot/Image
		TARGET_CC=aarch64-linux-gnu-gcc
		RUST_TARGET=aarch64-unknown-linux-gnu
		RUST_TARGET_ENV=CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=$TARGET_CC
		QEMU_SYSTEM=qemu-system-aarch64
		DEB_ARCH=arm64
		;;
	esac
	# bindgen: Linux 7.3's Rust needs libclang >= 17 (bookworm's default
	# is 14); the arm64 kernel is also compiled with this LLVM.
	export LIBCLANG_PATH=/usr/lib/llvm-19/lib
}

arch_option() {
	[ "$ZP_ARCH" = x86_64 ] || echo "--arch $ZP_ARCH"
}

page_size_select() {
	case "$1" in
	4k|4K|4096) ZP_PAGE_SIZE=4k ;;
	64k|64K|65536) ZP_PAGE_SIZE=64k ;;
	*) echo "$PROG: error: --page-size must be 4k or 64k, not '$1'" >&2
	   exit 2 ;;
	esac
}

page_size_check() {
	[ "$ZP_PAGE_SIZE" = 4k ] || [ "$ZP_ARCH" = arm64 ] || {
		echo "$PROG: error: --page-size $ZP_PAGE_SIZE: $ZP_ARCH has 4k pages only" >&2
		exit 2
	}
}

page_size_option() {
	[ "$ZP_PAGE_SIZE" = 4k ] || echo "--page-size $ZP_PAGE_SIZE"
}

arch_select x86_64
page_size_select 4k
