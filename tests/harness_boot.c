// SPDX-License-Identifier: GPL-2.0
/*
 * The guest runs the patched kernel and its in-kernel Rust toolchain works:
 * the release carries the "-zeropage" marker that patch 0001 adds, and the
 * rust_minimal sample module loads and unloads.
 *
 * Also checks that the system calls the other tests rely on exist in the
 * tinyconfig-based guest (madvise, mlock, MADV_POPULATE_WRITE, epoll).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "kselftest.h"

static int module_loaded(const char *name)
{
	char line[256];
	size_t len = strlen(name);
	FILE *f = fopen("/proc/modules", "r");
	int found = 0;

	if (!f)
		ksft_exit_fail_msg("/proc/modules: %s\n", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, len) && line[len] == ' ')
			found = 1;
	fclose(f);
	return found;
}

static int kmsg_contains(const char *needle)
{
	char buf[4096];
	FILE *f = popen("dmesg", "r");
	int found = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f))
		if (strstr(buf, needle))
			found = 1;
	pclose(f);
	return found;
}

int main(void)
{
	size_t len = 4UL << 20;
	struct utsname u;
	char *p;
	int efd;

	ksft_print_header();
	ksft_set_plan(6);

	if (uname(&u))
		ksft_exit_fail_msg("uname: %s\n", strerror(errno));
	ksft_print_msg("kernel release %s\n", u.release);
	ksft_test_result(strstr(u.release, "-zeropage") != NULL,
			 "release carries the series marker\n");

	ksft_test_result(system("modprobe rust_minimal") == 0 &&
			 module_loaded("rust_minimal") &&
			 kmsg_contains("Rust minimal sample (init)"),
			 "rust_minimal loads\n");
	ksft_test_result(system("rmmod rust_minimal") == 0 &&
			 !module_loaded("rust_minimal") &&
			 kmsg_contains("Rust minimal sample (exit)"),
			 "rust_minimal unloads\n");

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	ksft_test_result(!madvise(p, len, MADV_HUGEPAGE) &&
			 !madvise(p, len, MADV_POPULATE_WRITE) && p[len - 1] == 0,
			 "madvise(MADV_HUGEPAGE, MADV_POPULATE_WRITE) work\n");
	ksft_test_result(!mlock(p, len) && !munlock(p, len), "mlock works\n");
	munmap(p, len);

	efd = epoll_create1(0);
	ksft_test_result(efd >= 0, "epoll_create1 works\n");
	if (efd >= 0)
		close(efd);

	ksft_finished();
}
