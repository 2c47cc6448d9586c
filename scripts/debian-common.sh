# SPDX-License-Identifier: GPL-2.0
#
# Shared by scripts/deb, scripts/debian-image and scripts/run-debian (sourced,
# not run): paths, messages, the kernel build directory and the guest lock.
# The sourcing script sets PROG (its name, for messages) first.

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${ZERO_PAGE_CACHE:-$HOME/.cache/zero_page}
# Packages land here; the root file system image is cached in $CACHE.
DEB_DIR=$TOP/build/deb
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_IMAGE=$CACHE/debian-12.img
# Guests take turns on this machine: every QEMU runs under this lock.
GUEST_LOCK=/tmp/zero_page-guest.lock
export PATH="$HOME/.cargo/bin:$PATH"

die() { echo "$PROG: error: $*" >&2; exit 1; }
# Bad input (options, arguments): exit status 2.
usage_error() { echo "$PROG: error: $*" >&2; exit 2; }
note() { echo "$PROG: $*" >&2; }

# The fast kernel's O= directory from scripts/build (built if needed),
# with "source" (the patched tree), ".config" and "kernelrelease".
kernel_build_dir() {
	local out
	out=$("$TOP/scripts/build" --print-dir) || die "scripts/build failed"
	[ -f "$out/kernelrelease" ] && [ -f "$out/.config" ] && [ -e "$out/source" ] ||
		die "scripts/build left no kernelrelease, .config and source in $out"
	echo "$out"
}

# The newest package of NAME (a glob, e.g. 'linux-image-*') in DEB_DIR.
deb_file() {
	local f
	f=$(ls -1t "$DEB_DIR"/$1_*.deb 2>/dev/null | head -n 1)
	[ -n "$f" ] || die "no $1 package in $DEB_DIR (run scripts/deb)"
	echo "$f"
}

# Size in seconds of a non-negative integer option, or a usage error.
check_uint() {
	[[ "$2" =~ ^[0-9]+$ ]] || usage_error "$1 needs a number, not '$2'"
}
