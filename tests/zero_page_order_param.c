// SPDX-License-Identifier: GPL-2.0
/*
 * page_reporting_order and mini_order: the latest request wins. Writing the
 * page_reporting_order parameter overrides the order of the registered
 * device; a later write of mini_order takes effect again at the next pass
 * (a flush), instead of being ignored for good.
 */
#include "zero_page_common.h"

#define PARAM "/sys/module/page_reporting/parameters/page_reporting_order"

static long param_read(void)
{
	char buf[32];

	if (sysfs_read(PARAM, buf, sizeof(buf)) <= 0)
		return -1;
	return strtol(buf, NULL, 10);
}

int main(void)
{
	long a, b, c;

	ksft_print_header();
	zp_require();
	if (param_read() < 0)
		ksft_exit_skip(PARAM " does not exist\n");
	zp_save();
	zp_enable_flush_only();
	zp_write("mini_order", "3");
	ksft_set_plan(3);

	zp_write("flush", "1");
	a = param_read();
	ksft_test_result(a == 3, "the device's mini_order 3 is the reporting order (%ld)\n", a);

	sysfs_write(PARAM, "5", 1);
	zp_write("flush", "1");
	b = param_read();
	ksft_test_result(b == 5, "a later page_reporting_order 5 overrides it (%ld)\n", b);

	zp_write("mini_order", "2");
	zp_write("flush", "1");
	c = param_read();
	ksft_test_result(c == 2 && zp_read("mini_order") == 2,
			 "a later mini_order 2 takes effect again (%ld)\n", c);
	ksft_finished();
}
