// SPDX-License-Identifier: GPL-2.0
/*
 * load_once MODULE.ko [PARAMS]: load a module with one finit_module().
 *
 * The test modules of "make check-mm" (test_vmalloc, page_frag_test) run
 * their cases in their init and then fail it with -EAGAIN. busybox's
 * insmod and modprobe retry a failed finit_module() with init_module(),
 * which runs every case a second time. Exit status 0 whatever the init
 * returned (the test's result is in the kernel log), 1 if the module
 * could not be opened.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *params = argc > 2 ? argv[2] : "";
	int fd;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: load_once MODULE.ko [PARAMS]\n");
		return 2;
	}
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "load_once: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (syscall(SYS_finit_module, fd, params, 0))
		printf("load_once: init of %s returned: %s\n", argv[1], strerror(errno));
	close(fd);
	return 0;
}
