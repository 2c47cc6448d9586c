// SPDX-License-Identifier: GPL-2.0
/*
 * Bad input to zeroable_hugepages is rejected with EINVAL and changes
 * nothing: not a number, 0, negative, overflow, trailing garbage, spaces,
 * hexadecimal, an embedded NUL. Good input ("1", "1\n", "max", "max\n")
 * works.
 */
#include "hugetlb_prezero_common.h"

#define KB HP_2M_KB

static const char *const bad[] = {
	"\n", "abc", "0", "0\n", "-1", "-0", "+1", " 1", "1 ", "1\n\n",
	"1x", "0x10", "1.5", "max2", "MAX", "maxx", " max",
	"18446744073709551616", "99999999999999999999999", "1\0002",
};

int main(void)
{
	long long pages, zeroable;
	unsigned int i;
	char path[256];

	ksft_print_header();
	hp_require(1);
	ksft_set_plan(ARRAY_SIZE(bad) + 3);

	hp_set_pool(0, KB, 0);
	if (hp_set_pool(0, KB, 8) != 8)
		ksft_exit_skip("cannot allocate 8 huge pages\n");
	hp_path(path, sizeof(path), 0, KB, "zeroable_hugepages");

	pages = hp_stat("zeroed_pages");
	zeroable = hp_zeroable(0, KB);
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		/* "1\0002" is 3 bytes with an embedded NUL. */
		size_t len = i == ARRAY_SIZE(bad) - 1 ? 3 : strlen(bad[i]);
		int ret = write_file(path, bad[i], len);

		ksft_test_result(ret == -EINVAL && hp_zeroable(0, KB) == zeroable &&
				 hp_stat("zeroed_pages") == pages,
				 "bad input #%u rejected (%d), nothing zeroed\n", i, ret);
	}

	ksft_test_result(write_str(path, "1") == 0 && write_str(path, "1\n") == 0 &&
			 hp_zeroable(0, KB) == zeroable - 2 &&
			 hp_stat("zeroed_pages") == pages + 2,
			 "\"1\" and \"1\\n\" zero one page each\n");
	ksft_test_result(write_str(path, "max") == 0 && hp_zeroable(0, KB) == 0,
			 "\"max\" zeroes the rest\n");
	hp_set_pool(0, KB, 10);
	ksft_test_result(write_str(path, "max\n") == 0 && hp_zeroable(0, KB) == 0 &&
			 hp_zeroed(0, KB) == 10,
			 "\"max\\n\" works too\n");

	ksft_finished();
}
