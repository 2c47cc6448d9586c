// SPDX-License-Identifier: GPL-2.0
// vm-run: --mem 1G
/*
 * page_reporting.zeroed_first costs nothing until a block marked zero is
 * freed: the static key behind it goes on only then (the kernel logs one
 * line when it does), not at boot. In a boot of its own, before anything
 * marked a page:
 * - the parameter reads Y but the key is off (no log line);
 * - after zero_page pre-zeroes free memory, the key goes on (one line);
 * - writing 0 and 1 to the parameter turns it off and on again (a second
 *   line), since marked blocks have been seen;
 * - pre-zeroed memory is still handed to faults (prezero_alloc_hit).
 * Before the key goes on, it also times 4 KiB faults with the parameter on
 * and off, which must then cost the same (printed, not asserted: TCG).
 * Under init_on_free=1 the key never goes on: zero_page_init_on_free.
 * Before the key went on by demand, it was on from boot and no line was
 * logged: this test failed at its second check.
 *
 * So it must run first after boot (the Makefile lists it first), and not
 * under init_on_free=1.
 */
#include "zero_page_common.h"

#define TIMED (32 * MIB)
#define TIMED_ROUNDS 7

/* Seconds to fault in and unmap TIMED bytes of 4 KiB pages. */
static double timed_faults(void)
{
	double t0 = now_secs();
	char *p = map_anon(TIMED, 0, MADV_NOHUGEPAGE);

	if (!p || madvise(p, TIMED, MADV_POPULATE_WRITE))
		ksft_exit_fail_msg("fault-in failed\n");
	munmap(p, TIMED);
	return now_secs() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Medians of 4 KiB fault-in times with zeroed_first off and on, alternated. */
static void time_param(double *off, double *on)
{
	double t_off[TIMED_ROUNDS], t_on[TIMED_ROUNDS];
	int i;

	for (i = 0; i < TIMED_ROUNDS; i++) {
		sysfs_write(ZEROED_FIRST, "0", 1);
		t_off[i] = timed_faults();
		sysfs_write(ZEROED_FIRST, "1", 1);
		t_on[i] = timed_faults();
	}
	qsort(t_off, TIMED_ROUNDS, sizeof(double), cmp_double);
	qsort(t_on, TIMED_ROUNDS, sizeof(double), cmp_double);
	*off = t_off[TIMED_ROUNDS / 2];
	*on = t_on[TIMED_ROUNDS / 2];
}

/* Waits up to 5 s for the kernel log to hold `n` activation lines. */
static int wait_key_lines(int n)
{
	int i, c = -1;

	for (i = 0; i < 50; i++) {
		c = klog_count(ZEROED_FIRST_ON);
		if (c >= n)
			break;
		usleep(100 * 1000);
	}
	return c;
}

int main(void)
{
	char val[8] = "", *log;
	double t_off, t_on;
	long long hit0;
	char *p;
	int c;

	ksft_print_header();
	if (sysfs_read(ZEROED_FIRST, val, sizeof(val)) <= 0)
		ksft_exit_skip(ZEROED_FIRST " does not exist\n");
	log = klog_read();
	if (!log)
		ksft_exit_skip("cannot read the kernel log\n");
	free(log);
	ksft_set_plan(4);

	c = klog_count(ZEROED_FIRST_ON);
	ksft_test_result(val[0] == 'Y' && c == 0,
			 "at boot: zeroed_first=%c, key off (%d log lines)\n", val[0], c);
	time_param(&t_off, &t_on);
	ksft_print_msg(
		"nothing marked zero: 4 KiB faults, %lu MiB: zeroed_first=0 %.3f s, =1 %.3f s, ratio %.3f\n",
		TIMED / MIB, t_off, t_on, t_on / t_off);

	if (!zp_present() && system("modprobe zero_page"))
		ksft_exit_fail_msg("cannot load zero_page\n");
	zp_save();
	zp_enable_flush_only();
	zp_write("background", "0");
	if (zp_write_ul("zero_bytes", 64 * MIB))
		ksft_exit_fail_msg("zero_bytes failed\n");
	c = wait_key_lines(1);
	ksft_test_result(c == 1, "after pre-zeroing: key on (%d log lines)\n", c);

	sysfs_write(ZEROED_FIRST, "0", 1);
	sysfs_write(ZEROED_FIRST, "1", 1);
	c = wait_key_lines(2);
	ksft_test_result(c == 2, "zeroed_first 0 then 1: key off and on again (%d log lines)\n", c);

	thp_write_string("enabled", "always");
	hit0 = vmstat_get("prezero_alloc_hit");
	p = map_anon(32 * MIB, 0, MADV_HUGEPAGE);
	if (!p || madvise(p, 32 * MIB, MADV_POPULATE_WRITE))
		ksft_exit_fail_msg("fault-in failed\n");
	ksft_test_result(vmstat_get("prezero_alloc_hit") - hit0 >=
			 (long long)(16 * MIB / PAGE_SZ) &&
			 first_nonzero(p, 32 * MIB) == -1,
			 "faults take pre-zeroed memory: %lld clears skipped\n",
			 vmstat_get("prezero_alloc_hit") - hit0);
	zp_write("enabled", "0");
	ksft_finished();
}
