# SPDX-License-Identifier: GPL-2.0
#
# Reading the patches of patches/ and checking the tools that write them,
# in the host-side checks (sourced after tap.sh, not run; they use $top,
# the repository, and $tmp, a scratch directory):
#
#   carried PATCH FILE    prints the contents that PATCH gives FILE (a
#                         path in the kernel tree) where it adds FILE as
#                         a new file: its one hunk, without the "+"s

carried() {
	awk -v h="diff --git a/$2 b/$2" '
		/^diff --git / || $0 == "-- " { s = 0 }
		$0 == h { s = 1 }
		s && hunk { print substr($0, 2) } s && /^@@ / { hunk = 1 }' "$1"
}

# The round trip of a file that a tool of scripts/ writes into the patches
# of a copy of the repository (scripts/driver-patches, selftest-patches),
# in two TAP results; both set patch (the patch that adds KPATH) and rel
# (its path in the copy):
#
#   drift_is_seen TOOL COPY SRC KPATH LINE
#       appends LINE to COPY/SRC (the file of the repository that the
#       patch carries as KPATH, a path in the kernel tree): TOOL --check
#       exits 1 and names the patch and SRC
#   drift_is_written TOOL COPY SRC KPATH LINE
#       then TOOL writes it back: it says it updated the patch, --check
#       passes, and the patch carries SRC exactly, LINE last

patch_of() {	# COPY KPATH
	patch=$(grep -lx "diff --git a/$2 b/$2" "$1"/patches/*/*.patch | head -n 1)
	rel=${patch#"$1"/}
}

drift_is_seen() {
	local tool=$1 copy=$2 src=$3 kpath=$4 line=$5 rc ok=0
	echo "$line" >> "$copy/$src"
	patch_of "$copy" "$kpath"
	timeout 120 "$copy/scripts/$tool" --check > "$tmp/out" 2>&1
	rc=$?
	[ -n "$patch" ] && [ "$rc" = 1 ] && grep -qF "$rel does not carry $src" "$tmp/out" && ok=1
	result $ok "a line appended to $src: $tool --check exits 1 naming ${rel:-the patch} (exit $rc)" "$tmp/out"
}

drift_is_written() {
	local tool=$1 copy=$2 src=$3 kpath=$4 line=$5 rc rc2 ok=0
	patch_of "$copy" "$kpath"
	timeout 300 "$copy/scripts/$tool" > "$tmp/out" 2>&1
	rc=$?
	timeout 120 "$copy/scripts/$tool" --check >> "$tmp/out" 2>&1
	rc2=$?
	if [ -n "$patch" ] && [ "$rc" = 0 ] && [ "$rc2" = 0 ] &&
	   grep -qF "updated $rel" "$tmp/out"; then
		carried "$patch" "$kpath" > "$tmp/carried"
		cmp -s "$tmp/carried" "$copy/$src" &&
			[ "$(tail -n 1 "$tmp/carried")" = "$line" ] && ok=1
	fi
	result $ok "$tool writes the line of $src into ${rel:-the patch}, --check passes (exit $rc, $rc2)" "$tmp/out"
}

# bogus_option_is_refused TOOL: scripts/TOOL --bogus exits 2 with a
# message on stderr and nothing on stdout (one TAP result).
bogus_option_is_refused() {
	local rc ok=0
	timeout 60 "$top/scripts/$1" --bogus > "$tmp/out" 2> "$tmp/err" < /dev/null
	rc=$?
	[ "$rc" = 2 ] && [ -s "$tmp/err" ] && [ ! -s "$tmp/out" ] && ok=1
	result $ok "scripts/$1 --bogus is refused with a message and exit 2 (exit $rc)" "$tmp/err" "$tmp/out"
}
