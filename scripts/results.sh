# SPDX-License-Identifier: GPL-2.0
#
# Guest runs and their results (sourced, not run). Shared by scripts/check
# and scripts/check-selftests, which keep the totals in pass, fail and
# skip and the reasons of failures outside the tests in failures=().
#
#   vm_run_options FILE prints the options of the "vm-run:" line of the test
#                       FILE (nothing without one)
#   group_by_options NAME OPTS
#                       adds NAME to the boot with the vm-run options OPTS:
#                       groups["o:OPTS"] lists its names, order its keys in
#                       the order first seen (the caller declares both)
#   guest_run WHAT BASE ARG...
#                       runs scripts/vm-run ARG..., its TAP stream on stdout
#                       and in BASE.tap, its stderr in BASE.err and then on
#                       stderr, and counts both for the boot WHAT (count,
#                       boot_status)
#   count FILE          adds the results of the kselftest TAP stream FILE
#                       (run_kselftest.sh's format, or scripts/guest/run-tests')
#                       to pass, fail and skip
#   boot_status WHAT RC ERR
#                       counts vm-run's exit status RC for the boot WHAT
#                       ("boot 2"), whose stderr is in the file ERR: a
#                       timeout, panic or kernel splat is one failure more

# Count one TAP stream. A program's own results ("# ok N", "# not ok N")
# count one by one; a program that failed without a failing result of its
# own (a crash, a timeout), or that never reported how it ended (the guest
# or its QEMU went away under it), counts as one more failure.
count() {
	local counts p f s
	counts=$(tr -d '\r' < "$1" | awk '
		function flush() {
			if (inprog && top != "") {
				if (top == "fail" && !ifail) f++
				if (!seen) { if (top == "pass") p++; else if (top == "skip") s++ }
			} else if (inprog) {
				f++
			}
			inprog = 0; seen = 0; ifail = 0; top = ""
		}
		/^# selftests: / { flush(); inprog = 1; next }
		/^# (# )?(not )?ok [0-9]+/ && inprog {
			seen = 1
			if ($0 ~ /^# (# )?not ok/) { f++; ifail = 1 }
			else if ($0 ~ /# SKIP/) s++
			else p++
			next
		}
		/^not ok [0-9]+/ { if (inprog) { top = "fail"; flush() } else f++; next }
		/^ok [0-9]+/ {
			if (inprog) { top = ($0 ~ /# SKIP/) ? "skip" : "pass"; flush() }
			else if ($0 ~ /# SKIP/) s++; else p++
			next
		}
		END { flush(); print p + 0, f + 0, s + 0 }')
	read -r p f s <<< "$counts"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

# vm-run's exit status: 0 or 1 is the command's (its failures are in the
# TAP stream), or 1 a failed migration (said on its stderr); the others are
# failures of the boot itself.
boot_status() {
	local what=$1 rc=$2 err=$3
	case $rc in
	0|1) ;;
	124) fail=$((fail + 1)); failures+=("$what: timeout") ;;
	125) fail=$((fail + 1)); failures+=("$what: guest panic or crash") ;;
	126) fail=$((fail + 1)); failures+=("$what: kernel splat (WARNING/BUG/lockdep/bad page)") ;;
	*) fail=$((fail + 1)); failures+=("$what: vm-run exited with $rc") ;;
	esac
	if [ "$rc" = 1 ] && grep -q "kernel splat" "$err"; then
		fail=$((fail + 1)); failures+=("$what: kernel splat (WARNING/BUG/lockdep/bad page)")
	fi
	if [ "$rc" = 1 ] && grep -q "FAIL: migration" "$err"; then
		fail=$((fail + 1)); failures+=("$what: live migration failed")
	fi
}

vm_run_options() {
	sed -n 's/^\(\/\/\|#\|\s*\*\) vm-run: //p' "$1" | head -n 1
}

group_by_options() {
	local key="o:$2"
	[ -n "${groups[$key]+x}" ] || order+=("$key")
	groups[$key]="${groups[$key]:-} $1"
}

guest_run() {
	local what=$1 base=$2 rc
	shift 2
	"$TOP/scripts/vm-run" "$@" 2> "$base.err" | tee "$base.tap"
	rc=${PIPESTATUS[0]}
	cat "$base.err" >&2
	count "$base.tap"
	boot_status "$what" "$rc" "$base.err"
}
