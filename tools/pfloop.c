// SPDX-License-Identifier: GPL-2.0
/*
 * pfloop - page_fault1-style fault loop and memory-bandwidth neighbour.
 *
 *   pfloop fault SECONDS [MiB]   map MiB (default 128) of 4K anonymous memory,
 *                                touch every page, unmap; repeat for SECONDS;
 *                                print "pfloop: fault <pages per second>"
 *   pfloop memset SECONDS [MiB]  memset a MiB buffer (default 64) again and
 *                                again for SECONDS; print "pfloop: memset
 *                                <GiB per second>" (single-core clear
 *                                bandwidth; also a cache-sensitive neighbour)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double secs, t0, t;
	unsigned long mib, done = 0;
	size_t len, i;
	char *p;

	if (argc < 3 || (strcmp(argv[1], "fault") && strcmp(argv[1], "memset"))) {
		fprintf(stderr, "usage: %s fault|memset SECONDS [MiB]\n", argv[0]);
		return 2;
	}
	secs = atof(argv[2]);
	mib = argc > 3 ? strtoul(argv[3], NULL, 0) : (argv[1][0] == 'f' ? 128 : 64);
	len = mib << 20;

	t0 = now();
	if (!strcmp(argv[1], "fault")) {
		do {
			p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				return 2;
			madvise(p, len, MADV_NOHUGEPAGE);
			for (i = 0; i < len; i += 4096)
				p[i] = 1;
			munmap(p, len);
			done += len / 4096;
			t = now() - t0;
		} while (t < secs);
		printf("pfloop: fault %.0f\n", done / t);
	} else {
		p = malloc(len);
		if (!p)
			return 2;
		memset(p, 1, len);
		do {
			memset(p, (int)done, len);
			done++;
			t = now() - t0;
		} while (t < secs);
		printf("pfloop: memset %.3f\n", done * (double)len / t / (1 << 30));
	}
	return 0;
}
