#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/selftest-patches: patches/selftests/ carries the kselftests of
# tests/ as tools/testing/selftests/prezero/. In a temporary copy of
# patches/, tests/ and scripts/: a line appended to tests/zero_page_hits.c
# makes --check fail naming the patch that adds it, and so do a new test
# that the manifest does not name and a kernel option added to the
# manifest; scripts/selftest-patches writes the line into that patch (when the
# kernel tarball is there: it reads MAINTAINERS from it), after which
# --check passes and the patch adds the line; an unknown option exits 2
# with a message. Prints TAP. Run by "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$top/tests/host/lib/tap.sh"
. "$top/tests/host/lib/patch.sh"
copy_repo() {	# DIR: a copy of what the script reads
	rm -rf "$1"
	mkdir -p "$1"
	cp -a "$top/patches" "$top/tests" "$top/scripts" "$1/"
}

# 1. The repository as it is.
timeout 60 "$top/scripts/selftest-patches" --check > "$tmp/out" 2>&1
rc=$?
ok=0; [ "$rc" = 0 ] && ok=1
result $ok "scripts/selftest-patches --check: patches/selftests carry tests/ (exit $rc)" "$tmp/out"

# 2. A copy with a line appended to tests/zero_page_hits.c.
copy=$tmp/repo
copy_repo "$copy"
line="// selftest_patches.sh $$ $(date +%s)"
file=tools/testing/selftests/prezero/zero_page_hits.c
drift_is_seen selftest-patches "$copy" tests/zero_page_hits.c "$file" "$line"

# 3. scripts/selftest-patches writes it back: --check passes, the patch's
#    section of the file ends with the line, the patch still applies.
tarball=${KERNEL_TARBALL:-${ZERO_PAGE_CACHE:-$HOME/.cache/zero_page}/linux-source-7.3/usr/src/linux-source-7.3.tar.xz}
if [ ! -f "$tarball" ]; then
	result skip "scripts/selftest-patches writes the line into the patch: no kernel tarball $tarball"
else
	drift_is_written selftest-patches "$copy" tests/zero_page_hits.c "$file" "$line"
fi

# 4. A test that the manifest does not name.
copy_repo "$copy"
cp "$copy/tests/zero_page_order_param.c" "$copy/tests/zero_page_new_test.c"
timeout 60 "$copy/scripts/selftest-patches" --check > "$tmp/out" 2>&1
rc=$?
ok=0
[ "$rc" = 1 ] && grep -qF "tests/zero_page_new_test.c is in no patch" "$tmp/out" && ok=1
result $ok "a new tests/zero_page_new_test.c that the manifest does not name: --check exits 1 (exit $rc)" "$tmp/out"

# 5. A kernel option added to the manifest: the config file of the patch
#    that adds it no longer matches.
copy_repo "$copy"
echo "config 1 CONFIG_SELFTEST_PATCHES_SH=y" >> "$copy/patches/selftests/manifest"
timeout 60 "$copy/scripts/selftest-patches" --check > "$tmp/out" 2>&1
rc=$?
ok=0
[ "$rc" = 1 ] && grep -qF "its config is not what" "$tmp/out" && ok=1
result $ok "a config line added to the manifest: --check exits 1 naming the config file (exit $rc)" "$tmp/out"

# 6. Bad usage.
bogus_option_is_refused selftest-patches

tap_print
