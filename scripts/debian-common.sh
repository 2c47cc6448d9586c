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

# Take the guest lock on file descriptor 7, held until the script ends;
# waits for another guest. A caller that holds it already ("flock
# /tmp/zero_page-guest.lock make check-debian", an ancestor of this process
# in /proc/locks) is not waited for: that would wait for ever.
guest_lock() {
	local ino holder p
	exec 7>"$GUEST_LOCK"
	ino=$(stat -c %i "$GUEST_LOCK")
	# "1: FLOCK ADVISORY WRITE <pid> <maj>:<min>:<inode> 0 EOF"; waiters
	# ("1: -> FLOCK ...") are not holders.
	for holder in $(awk -v ino="$ino" \
		'$2 == "FLOCK" { n = split($6, d, ":"); if (d[n] == ino) print $5 }' /proc/locks); do
		p=$$
		while [ -n "$p" ] && [ "$p" -gt 1 ]; do
			if [ "$p" = "$holder" ]; then
				note "the guest lock is held by the caller (pid $holder)"
				return 0
			fi
			p=$(awk '$1 == "PPid:" { print $2 }' "/proc/$p/status" 2>/dev/null)
		done
	done
	if ! flock -n 7; then
		note "waiting for another guest to finish ($GUEST_LOCK)"
		flock 7
	fi
}
