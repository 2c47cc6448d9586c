// SPDX-License-Identifier: GPL-2.0
/*
 * populate - time how long it takes to fault in anonymous memory.
 *
 *   populate [-m thp|4k|hugetlb|hugetlb1g] [-s MiB] [-n ITERATIONS] [-l]
 *
 * Maps SIZE MiB of private anonymous memory (THP on or off, or hugetlb
 * with MAP_HUGETLB, default or 1 GiB pages), populates it with MADV_POPULATE_WRITE (or mlock()
 * with -l), checks that every byte reads back zero, unmaps it, and prints
 * one line per iteration: "populate: <mode> <MiB> <seconds>".
 * Exits 1 if any byte was not zero.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <linux/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int all_zero(const unsigned long *p, size_t len)
{
	size_t i;

	for (i = 0; i < len / sizeof(*p); i++)
		if (p[i])
			return 0;
	return 1;
}

int main(int argc, char **argv)
{
	const char *mode = "thp";
	unsigned long mib = 256;
	int iterations = 1, use_mlock = 0, opt, i, bad = 0;

	while ((opt = getopt(argc, argv, "m:s:n:l")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 's':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'n':
			iterations = atoi(optarg);
			break;
		case 'l':
			use_mlock = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-m thp|4k|hugetlb|hugetlb1g] [-s MiB] [-n N] [-l]\n",
				argv[0]);
			return 2;
		}
	}
	if (strcmp(mode, "thp") && strcmp(mode, "4k") && strcmp(mode, "hugetlb") &&
	    strcmp(mode, "hugetlb1g")) {
		fprintf(stderr, "populate: unknown mode '%s'\n", mode);
		return 2;
	}

	for (i = 0; i < iterations; i++) {
		size_t len = mib << 20;
		int flags = MAP_PRIVATE | MAP_ANONYMOUS;
		double t0, t1;
		char *p;

		if (!strcmp(mode, "hugetlb"))
			flags |= MAP_HUGETLB;
		else if (!strcmp(mode, "hugetlb1g"))
			flags |= MAP_HUGETLB | (30 << MAP_HUGE_SHIFT);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (p == MAP_FAILED) {
			fprintf(stderr, "populate: mmap: %s\n", strerror(errno));
			return 2;
		}
		if (!strcmp(mode, "thp"))
			madvise(p, len, MADV_HUGEPAGE);
		else if (!strcmp(mode, "4k"))
			madvise(p, len, MADV_NOHUGEPAGE);
		t0 = now();
		if (use_mlock ? mlock(p, len) : madvise(p, len, MADV_POPULATE_WRITE)) {
			fprintf(stderr, "populate: %s: %s\n",
				use_mlock ? "mlock" : "madvise", strerror(errno));
			return 2;
		}
		t1 = now();
		if (!all_zero((unsigned long *)p, len)) {
			fprintf(stderr, "populate: stale data in freshly faulted memory\n");
			bad = 1;
		}
		printf("populate: %s%s %lu %.6f\n", mode, use_mlock ? "+mlock" : "",
		       mib, t1 - t0);
		munmap(p, len);
	}
	return bad;
}
