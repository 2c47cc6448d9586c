#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/driver-patches: the series of patches/ carries the drivers'
# sources of truth, src/*.rs, as the files its patches add (mm/NAME.rs),
# and their ABI entries and admin guides (Documentation/); in a temporary
# copy of patches/, src/, Documentation/ and scripts/, a line appended to
# src/zero_page.rs makes --check fail naming the patch, and
# scripts/driver-patches writes it into that patch, after which --check
# passes and the patch adds the line, and the key of scripts/build's
# patched tree stays the same; the same for a line appended to
# Documentation/admin-guide/mm/hugetlb_prezero.rst; an unknown option
# exits 2 with a message. Prints TAP. Run by "make check".

top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$top/tests/host/lib/tap.sh"
. "$top/tests/host/lib/patch.sh"

# 1. The repository as it is.
timeout 120 "$top/scripts/driver-patches" --check > "$tmp/out" 2>&1
rc=$?
ok=0; [ "$rc" = 0 ] && ok=1
result $ok "scripts/driver-patches --check: patches/ carry src/*.rs and the documents (exit $rc)" "$tmp/out"

# 2. A copy with a line appended to src/zero_page.rs.
copy=$tmp/repo
mkdir -p "$copy"
cp -a "$top/patches" "$top/src" "$top/Documentation" "$top/scripts" "$copy/"
# The text that keys scripts/build's patched tree (scripts/series.sh).
key() { (cd "$1" && . scripts/series.sh && series_patches && series_key_text) | sha256sum; }
key_before=$(key "$copy")
line="// driver_patches.sh $$ $(date +%s)"
drift_is_seen driver-patches "$copy" src/zero_page.rs mm/zero_page.rs "$line"

# 3. scripts/driver-patches writes it back: --check passes, the patch's
#    new-file section ends with the line.
drift_is_written driver-patches "$copy" src/zero_page.rs mm/zero_page.rs "$line"

# 4. The patched tree's key did not change: scripts/build copies src/ over
#    its mm/ and does not rebuild the kernel from scratch.
key_after=$(key "$copy")
ok=0
[ -n "$patch" ] && ! cmp -s "$patch" "$top/${rel}" && [ "$key_before" = "$key_after" ] && ok=1
result $ok "the source key of scripts/build stays the same when only the carried driver changed"

# 5. A line appended to the admin guide of hugetlb_prezero: --check exits
#    1 naming the patch that adds it, scripts/driver-patches writes it
#    back, and the key stays the same.
guide=Documentation/admin-guide/mm/hugetlb_prezero.rst
key_before=$(key "$copy")
line="driver_patches.sh $$ $(date +%s)"
drift_is_seen driver-patches "$copy" "$guide" "$guide" "$line"
drift_is_written driver-patches "$copy" "$guide" "$guide" "$line"
key_after=$(key "$copy")
ok=0
[ -n "$patch" ] && ! cmp -s "$patch" "$top/$rel" && [ "$key_before" = "$key_after" ] && ok=1
result $ok "the source key of scripts/build stays the same when only a carried guide changed"

# 6. Bad usage.
bogus_option_is_refused driver-patches

tap_print
