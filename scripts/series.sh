# SPDX-License-Identifier: GPL-2.0
#
# The kernel series of patches/ (sourced, not run): the topic directories
# in the order of patches/topics, the patches of each in the order of its
# series file. Shared by scripts/build, scripts/driver-patches and
# scripts/selftest-patches.
#
#   series_patches    sets patches=() to every patch but the cover letters,
#                     in order; returns 1 with SERIES_ERROR set when a
#                     series file names a patch that is not there or a
#                     patch is in no series file

series_patches() {
	local top dir p f
	top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	patches=()
	SERIES_ERROR=
	[ -f "$top/patches/topics" ] || { SERIES_ERROR="no patches/topics"; return 1; }
	while read -r dir; do
		[ -n "$dir" ] || continue
		[ -f "$top/patches/$dir/series" ] ||
			{ SERIES_ERROR="no patches/$dir/series"; return 1; }
		while read -r p; do
			[ -n "$p" ] || continue
			[ -f "$top/patches/$dir/$p" ] ||
				{ SERIES_ERROR="patches/$dir/series names $p, which is not there"; return 1; }
			patches+=("$top/patches/$dir/$p")
		done < "$top/patches/$dir/series"
		for f in "$top/patches/$dir"/*.patch; do
			case "$f" in *-cover-letter.patch) continue ;; esac
			grep -qxF "$(basename "$f")" "$top/patches/$dir/series" ||
				{ SERIES_ERROR="patches/$dir/$(basename "$f") is in no series file"; return 1; }
		done
	done < "$top/patches/topics"
	[ ${#patches[@]} -gt 0 ] || { SERIES_ERROR="no patches"; return 1; }
}

# The text that keys a patched tree (scripts/build): the patches less what
# they carry from the repository, which the build takes from there anyway
# (src/*.rs over mm/*.rs; the kselftests from tests/; the ABI entries and
# the admin guides, Documentation/admin-guide/mm/zero_page.rst and
# hugetlb_prezero.rst, are not built). Their new-file sections, the
# diffstat lines and format-patch's "From <commit>" line change when those
# files do, and would otherwise make an edit of a driver, a test or a guide
# rebuild the kernel from scratch.
#
#   series_key_text   the patches of series_patches() so filtered, on stdout
series_key_text() {
	awk '
		/^From [0-9a-f]+ Mon Sep 17 00:00:00 2001$/ { next }
		/^diff --git / {
			carried = $3 ~ /^a\/(mm\/(zero_page|hugetlb_prezero)\.rs|Documentation\/ABI\/testing\/|Documentation\/admin-guide\/mm\/(zero_page|hugetlb_prezero)\.rst|tools\/testing\/selftests\/prezero\/)/
		}
		/^-- $/ { carried = 0 }
		carried { next }
		/^ .* \| +[0-9]+ ?[-+]*$/ || /^ [0-9]+ files? changed/ { next }
		{ print }' "${patches[@]}" /dev/null
}
