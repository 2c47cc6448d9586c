// SPDX-License-Identifier: GPL-2.0
/*
 * populate - time how long it takes to fault in memory the way a VMM does.
 *
 *   populate [-m MODE] [-s MiB] [-n ITERATIONS] [-l | -w] [-t THREADS] [-p]
 *
 * MODE is where the memory comes from: thp or 4k (private anonymous memory,
 * THP on or off), hugetlb or hugetlb1g (MAP_HUGETLB, default or 1 GiB
 * pages), memfd (a shared memfd mapping: shmem, THP as shmem_enabled says)
 * or memfd-hugetlb (MFD_HUGETLB, default huge page size).
 *
 * Populates SIZE MiB with MADV_POPULATE_WRITE (or mlock() with -l, or by
 * writing one byte to every 4 KiB page with -w, as a guest first touches its
 * memory, so that a fault-in takes no GUP walk (used to compare); with -t,
 * THREADS threads populate disjoint parts at once), and with -p pins all of
 * it long-term for writing as VFIO does, through CONFIG_GUP_TEST's
 * PIN_LONGTERM_TEST_START (debugfs); -p alone lets the pin fault the memory
 * in. Checks that every byte reads back zero, unmaps it, and prints one line
 * per iteration: "populate: <mode> <MiB> <seconds>". Exits 1 if any byte
 * was not zero, 2 on bad options or when the memory cannot be had.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/mman.h>

#include "../../../mm/gup_test.h"
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define GUP_TEST "/sys/kernel/debug/gup_test"

static const char *const modes[] = {
	"thp", "4k", "hugetlb", "hugetlb1g", "memfd", "memfd-hugetlb",
};

struct part {
	char *p;
	size_t len;
	int err;
};

static void *populate_part(void *arg)
{
	struct part *part = arg;

	part->err = madvise(part->p, part->len, MADV_POPULATE_WRITE) ? errno : 0;
	return NULL;
}

/* Populates [p, p + len) with nr threads, each its own part; 0 or errno. */
static int populate_threads(char *p, size_t len, int nr)
{
	struct part parts[64];
	pthread_t threads[64];
	size_t step = (len / nr + (2 << 20) - 1) & ~(((size_t)2 << 20) - 1);
	int i, started = 0, err = 0;

	for (i = 0; i < nr && (size_t)i * step < len; i++) {
		parts[i].p = p + i * step;
		parts[i].len = len - i * step < step ? len - i * step : step;
		parts[i].err = 0;
		if (pthread_create(&threads[i], NULL, populate_part, &parts[i])) {
			parts[i].err = EAGAIN;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(threads[i], NULL);
		if (parts[i].err)
			err = parts[i].err;
	}
	return err;
}

static int all_zero(const unsigned long *p, size_t len)
{
	size_t i;

	for (i = 0; i < len / sizeof(*p); i++)
		if (p[i])
			return 0;
	return 1;
}

/* Maps len bytes of the given mode; MAP_FAILED on error (errno set). */
static char *map_mode(const char *mode, size_t len)
{
	int flags = MAP_PRIVATE | MAP_ANONYMOUS, fd;
	char *p;

	if (!strncmp(mode, "memfd", 5)) {
		fd = memfd_create("populate", strcmp(mode, "memfd") ? MFD_HUGETLB : 0);
		if (fd < 0)
			return MAP_FAILED;
		if (ftruncate(fd, len)) {
			close(fd);
			return MAP_FAILED;
		}
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		return p;
	}
	if (!strcmp(mode, "hugetlb"))
		flags |= MAP_HUGETLB;
	else if (!strcmp(mode, "hugetlb1g"))
		flags |= MAP_HUGETLB | (30 << MAP_HUGE_SHIFT);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, flags, -1, 0);
	if (p != MAP_FAILED && !strcmp(mode, "thp"))
		madvise(p, len, MADV_HUGEPAGE);
	else if (p != MAP_FAILED && !strcmp(mode, "4k"))
		madvise(p, len, MADV_NOHUGEPAGE);
	return p;
}

static int usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-m thp|4k|hugetlb|hugetlb1g|memfd|memfd-hugetlb] "
		"[-s MiB] [-n N] [-l | -w] [-t THREADS] [-p]\n", prog);
	return 2;
}

int main(int argc, char **argv)
{
	const char *mode = "thp";
	unsigned long mib = 256;
	int iterations = 1, use_mlock = 0, touch = 0, threads = 0, pin = 0;
	int gup = -1;
	int opt, i, bad = 0;
	char *end;

	while ((opt = getopt(argc, argv, "m:s:n:lwt:p")) != -1) {
		switch (opt) {
		case 'm':
			mode = optarg;
			break;
		case 's':
			mib = strtoul(optarg, &end, 0);
			if (*end || !mib || mib > (1UL << 30)) {
				fprintf(stderr, "populate: bad size '%s'\n", optarg);
				return 2;
			}
			break;
		case 'n':
			iterations = strtol(optarg, &end, 0);
			if (*end || iterations < 1 || iterations > 1000000) {
				fprintf(stderr, "populate: iterations must be 1..1000000, not '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'l':
			use_mlock = 1;
			break;
		case 'w':
			touch = 1;
			break;
		case 't':
			threads = strtol(optarg, &end, 0);
			if (*end || threads < 1 || threads > 64) {
				fprintf(stderr, "populate: threads must be 1..64, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'p':
			pin = 1;
			break;
		default:
			return usage(argv[0]);
		}
	}
	for (i = 0; i < (int)(sizeof(modes) / sizeof(modes[0])); i++)
		if (!strcmp(mode, modes[i]))
			break;
	if (i == (int)(sizeof(modes) / sizeof(modes[0]))) {
		fprintf(stderr, "populate: unknown mode '%s'\n", mode);
		return 2;
	}
	if (use_mlock + touch + !!threads > 1) {
		fprintf(stderr, "populate: -l, -w and -t do not go together\n");
		return 2;
	}
	if (pin) {
		gup = open(GUP_TEST, O_RDWR);
		if (gup < 0) {
			fprintf(stderr, "populate: %s: %s (CONFIG_GUP_TEST, debugfs)\n",
				GUP_TEST, strerror(errno));
			return 2;
		}
	}

	for (i = 0; i < iterations; i++) {
		size_t len = mib << 20;
		struct pin_longterm_test args = { .size = len,
			.flags = PIN_LONGTERM_TEST_FLAG_USE_WRITE };
		double t0, t1;
		int err = 0;
		char *p;

		p = map_mode(mode, len);
		if (p == MAP_FAILED) {
			fprintf(stderr, "populate: mmap: %s\n", strerror(errno));
			return 2;
		}
		args.addr = (uintptr_t)p;
		t0 = now();
		if (use_mlock)
			err = mlock(p, len) ? errno : 0;
		else if (threads)
			err = populate_threads(p, len, threads);
		else if (touch)
			for (size_t off = 0; off < len; off += 4096)
				((volatile char *)p)[off] = 0;
		else if (!pin)
			err = madvise(p, len, MADV_POPULATE_WRITE) ? errno : 0;
		if (!err && pin)
			err = ioctl(gup, PIN_LONGTERM_TEST_START, &args) ? errno : 0;
		t1 = now();
		if (err) {
			fprintf(stderr, "populate: %s: %s\n", pin ? "pin" :
				use_mlock ? "mlock" : "madvise", strerror(err));
			return 2;
		}
		if (pin)
			ioctl(gup, PIN_LONGTERM_TEST_STOP);
		if (!all_zero((unsigned long *)p, len)) {
			fprintf(stderr, "populate: stale data in freshly faulted memory\n");
			bad = 1;
		}
		printf("populate: %s%s%s %lu %.6f\n", mode, use_mlock ? "+mlock" :
		       touch ? "+touch" : "", pin ? "+pin" : "", mib, t1 - t0);
		munmap(p, len);
	}
	return bad;
}
