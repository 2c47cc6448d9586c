# SPDX-License-Identifier: GPL-2.0
#
# Reading the patches of patches/ in the host-side checks (sourced, not
# run):
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
