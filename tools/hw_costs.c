// SPDX-License-Identifier: GPL-2.0
/*
 * hw_costs - what clearing memory costs on the machine it runs on.
 *
 *   hw_costs [-s MiB] [-n REPEATS] [-b BENCH_LOG]
 *
 * The guests of this project run under QEMU/TCG, which emulates "rep stos"
 * and non-temporal stores at speeds unrelated to hardware. This program runs
 * on the host, no guest, and measures with the CPU's own stores:
 *
 * 1. Clearing throughput of each method the kernel uses or could use on
 *    x86-64 -- rep stosb (clear_page_erms(), clear_pages() on ERMS/FSRM),
 *    rep stosq (clear_page_rep()), unrolled movq (clear_page_orig()),
 *    movnti and movntdq with an sfence (non-temporal), clzero where the CPU
 *    has it -- over SIZE MiB of mapped THP memory, cleared 4 KiB page by
 *    page (one call per page, as a 4 KiB fault or a page-at-a-time worker
 *    does), in 2 MiB extents, and as one extent (as clear_pages() does for
 *    a whole folio since 7.0).
 * 2. The cache cost a clear leaves behind: reading back a 2 MiB extent right
 *    after clearing it (what the faulting task sees when it touches the
 *    memory it got), and re-reading a 1 MiB working set after 64 MiB were
 *    cleared (what a neighbour of a background clearing worker sees).
 * 3. The running kernel's fault-in of SIZE MiB of THP and of 4 KiB pages
 *    with MADV_POPULATE_WRITE, against rep stosb over the same memory once
 *    it is mapped: the clear's share of a fault on this machine.
 * 4. A prediction, from those shares and the share of clears the guest's
 *    bench skipped ("skipped=" of the bench lines in BENCH_LOG, 100% if no
 *    log is given), of each THP and 4 KiB fault-in case's ratio on this
 *    machine: 1 / (1 - clear share * skipped share).
 * 5. The net CPU cost of pre-zeroing a GiB with each method: what a worker
 *    spends clearing it in 2 MiB extents, against what the faults then do
 *    not spend (the kernel's own clear: rep stosb, page by page for 4 KiB
 *    faults, one extent per THP).
 *
 * Every figure is the best (throughput, fault-in) or the median (cache
 * costs) of REPEATS runs; the load average before and after is printed,
 * since other work on the machine lowers every figure. Exits 2 on bad
 * options, 1 when memory cannot be had or a cleared byte reads non-zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#ifndef __x86_64__
#error "hw_costs measures the x86-64 clearing methods"
#endif

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define KIB 1024UL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define PAGE (4 * KIB)
#define EXTENT (2 * MIB)

typedef void (*clear_fn)(void *p, size_t len);

static void clear_stosb(void *p, size_t len)
{
	asm volatile("rep stosb" : "+D"(p), "+c"(len) : "a"(0) : "memory");
}

static void clear_stosq(void *p, size_t len)
{
	size_t n = len / 8;

	asm volatile("rep stosq" : "+D"(p), "+c"(n) : "a"(0UL) : "memory");
}

/* clear_page_orig(): eight movq per 64-byte line. */
static void clear_movq(void *p, size_t len)
{
	char *c = p, *end = c + len;

	for (; c < end; c += 64)
		asm volatile("movq %1, 0(%0)\n\tmovq %1, 8(%0)\n\t"
			     "movq %1, 16(%0)\n\tmovq %1, 24(%0)\n\t"
			     "movq %1, 32(%0)\n\tmovq %1, 40(%0)\n\t"
			     "movq %1, 48(%0)\n\tmovq %1, 56(%0)"
			     : : "r"(c), "r"(0UL) : "memory");
}

static void clear_movnti(void *p, size_t len)
{
	char *c = p, *end = c + len;

	for (; c < end; c += 64)
		asm volatile("movnti %1, 0(%0)\n\tmovnti %1, 8(%0)\n\t"
			     "movnti %1, 16(%0)\n\tmovnti %1, 24(%0)\n\t"
			     "movnti %1, 32(%0)\n\tmovnti %1, 40(%0)\n\t"
			     "movnti %1, 48(%0)\n\tmovnti %1, 56(%0)"
			     : : "r"(c), "r"(0UL) : "memory");
	asm volatile("sfence" : : : "memory");
}

static void clear_movntdq(void *p, size_t len)
{
	char *c = p, *end = c + len;

	asm volatile("pxor %%xmm0, %%xmm0" : : : "xmm0");
	for (; c < end; c += 64)
		asm volatile("movntdq %%xmm0, 0(%0)\n\tmovntdq %%xmm0, 16(%0)\n\t"
			     "movntdq %%xmm0, 32(%0)\n\tmovntdq %%xmm0, 48(%0)"
			     : : "r"(c) : "memory");
	asm volatile("sfence" : : : "memory");
}

/* clzero zeroes the 64-byte line %rax points into, weakly ordered. */
static void clear_clzero(void *p, size_t len)
{
	char *c = p, *end = c + len;

	for (; c < end; c += 64)
		asm volatile(".byte 0x0f, 0x01, 0xfc" : : "a"(c) : "memory");
	asm volatile("sfence" : : : "memory");
}

struct method {
	const char *name;
	const char *kernel;
	clear_fn fn;
	bool present;
	double gibs[3];		/* page by page, 2 MiB extents, one extent */
	double after_clear_us;	/* read of the 2 MiB just cleared */
	double neighbour_us;	/* re-read of a 1 MiB working set */
};

static struct method methods[] = {
	{ .name = "rep stosb", .kernel = "clear_page_erms(), clear_pages()", .fn = clear_stosb },
	{ .name = "rep stosq", .kernel = "clear_page_rep()", .fn = clear_stosq },
	{ .name = "movq x8", .kernel = "clear_page_orig()", .fn = clear_movq },
	{ .name = "movnti", .kernel = "non-temporal (zero_page's worker)", .fn = clear_movnti },
	{ .name = "movntdq", .kernel = "non-temporal, SSE2", .fn = clear_movntdq },
	{ .name = "clzero", .kernel = "AMD only", .fn = clear_clzero },
};

#define NR_METHODS (sizeof(methods) / sizeof(methods[0]))

static const char *const granularity[] = { "4 KiB pages", "2 MiB extents",
					   "one extent" };

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool cpu_has_clzero(void)
{
	unsigned int a = 0x80000000, b, c, d;

	asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	if (a < 0x80000008)
		return false;
	a = 0x80000008;
	asm volatile("cpuid" : "+a"(a), "=b"(b), "=c"(c), "=d"(d));
	return b & 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(int code, const char *fmt, const char *arg)
{
	fprintf(stderr, "hw_costs: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(code);
}

/* Maps len bytes of private anonymous memory, THP or not, not populated. */
static char *map(size_t len, bool thp)
{
	char *p = mmap(NULL, len + EXTENT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die(1, "cannot map %s", "memory");
	/* Align to a PMD so that every 2 MiB can be a THP. */
	p = (char *)(((uintptr_t)p + EXTENT - 1) & ~(EXTENT - 1));
	madvise(p, len, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	return p;
}

static void unmap(char *p, size_t len)
{
	munmap(p, len);
}

/* Sums the buffer a line at a time, so that the reads cannot be elided. */
static uint64_t read_pass(const char *p, size_t len)
{
	const volatile uint64_t *q = (const volatile uint64_t *)p;
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < len / 8; i += 8)
		sum += q[i];
	return sum;
}

static void check_zero(const char *p, size_t len, const char *what)
{
	size_t i;

	for (i = 0; i < len; i += 8)
		if (*(const uint64_t *)(p + i))
			die(1, "%s left a non-zero byte", what);
}

static double clear_gibs(struct method *m, char *buf, size_t len, int g)
{
	size_t step = g == 0 ? PAGE : g == 1 ? EXTENT : len, off;
	double t;

	memset(buf, 0x5a, len);
	t = now();
	for (off = 0; off < len; off += step)
		m->fn(buf + off, step);
	t = now() - t;
	check_zero(buf, len, m->name);
	return (double)len / GIB / t;
}

static void measure_clears(char *buf, size_t len, int repeats)
{
	unsigned int i;
	int g, r;

	for (i = 0; i < NR_METHODS; i++) {
		struct method *m = &methods[i];

		if (!m->present)
			continue;
		for (g = 0; g < 3; g++)
			for (r = 0; r < repeats; r++) {
				double v = clear_gibs(m, buf, len, g);

				if (v > m->gibs[g])
					m->gibs[g] = v;
			}
	}
}

/*
 * The reads a clear is followed by: the cleared extent itself, and a
 * working set that was cached before a larger clear.
 */
static void measure_caches(char *buf, size_t len, int repeats,
			   double *undisturbed_us)
{
	const size_t ws_len = MIB, batch = 64 * MIB;
	char *ws = buf + len - ws_len;
	double t, v[64], u[64];
	unsigned int i;
	int r;

	if (repeats > 64)
		repeats = 64;
	for (r = 0; r < repeats; r++) {
		read_pass(ws, ws_len);
		t = now();
		read_pass(ws, ws_len);
		u[r] = (now() - t) * 1e6;
	}
	*undisturbed_us = median(u, repeats);

	for (i = 0; i < NR_METHODS; i++) {
		struct method *m = &methods[i];

		if (!m->present)
			continue;
		for (r = 0; r < repeats; r++) {
			/* Evict the extent first: write 64 MiB elsewhere. */
			clear_stosb(buf + EXTENT, batch);
			m->fn(buf, EXTENT);
			t = now();
			read_pass(buf, EXTENT);
			v[r] = (now() - t) * 1e6;

			read_pass(ws, ws_len);
			read_pass(ws, ws_len);
			m->fn(buf, batch);
			t = now();
			read_pass(ws, ws_len);
			u[r] = (now() - t) * 1e6;
		}
		m->after_clear_us = median(v, repeats);
		m->neighbour_us = median(u, repeats);
	}
}

struct fault_cost {
	double populate;	/* seconds per GiB, MADV_POPULATE_WRITE */
	double clear;		/* seconds per GiB, rep stosb once mapped */
	double thp_share;	/* share of the memory that was THP-mapped */
};

static unsigned long anon_huge_kib(void)
{
	char line[256];
	unsigned long kib = 0;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %lu kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * The kernel clears a 4 KiB fault's page with clear_page() (rep stosb where
 * the CPU has ERMS); a THP fault clears its folio page by page before 7.0
 * and as one extent (clear_pages()) since. The running kernel's way is the
 * clear a fault would skip.
 */
static bool kernel_clears_extents(void)
{
	char rel[64] = "";
	FILE *f = fopen("/proc/sys/kernel/osrelease", "r");

	if (f) {
		if (!fgets(rel, sizeof(rel), f))
			rel[0] = '\0';
		fclose(f);
	}
	return atoi(rel) >= 7;
}

static struct fault_cost measure_faults(size_t len, bool thp, int repeats)
{
	struct fault_cost fc = { 1e9, 1e9, 0 };
	size_t step = thp && kernel_clears_extents() ? EXTENT : PAGE, off;
	double t;
	char *p;
	int r;

	/*
	 * Run once untimed: in a virtual machine the first touch of a guest
	 * page also costs the host's fault, which is not this kernel's.
	 */
	for (r = -1; r < repeats; r++) {
		p = map(len, thp);
		t = now();
		if (madvise(p, len, MADV_POPULATE_WRITE))
			die(1, "MADV_POPULATE_WRITE: %s", strerror(errno));
		t = now() - t;
		if (r >= 0 && t < fc.populate)
			fc.populate = t;
		fc.thp_share = (double)anon_huge_kib() * KIB / len;
		check_zero(p, len, "a fault");
		t = now();
		for (off = 0; off < len; off += step)
			clear_stosb(p + off, step);
		t = now() - t;
		if (r >= 0 && t < fc.clear)
			fc.clear = t;
		unmap(p, len);
	}
	fc.populate *= (double)GIB / len;
	fc.clear *= (double)GIB / len;
	return fc;
}

/* The "skipped=" share of a bench case in a bench log, or -1. */
static double bench_skipped(const char *log, const char *name)
{
	char line[512], c[128], s[32];
	double share = -1;
	FILE *f;

	if (!log || !(f = fopen(log, "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *b = strstr(line, "bench: ");

		if (!b || sscanf(b, "bench: %127s %*s %*s %*s skipped=%31s", c, s) != 2)
			continue;
		if (!strcmp(c, name) && strchr(s, '%'))
			share = atof(s) / 100;
	}
	fclose(f);
	return share;
}

static void loadavg(const char *when)
{
	char buf[128] = "";
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	buf[strcspn(buf, "\n")] = '\0';
	printf("load average %s: %s\n", when, buf);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: hw_costs [-s MiB] [-n REPEATS] [-b BENCH_LOG]\n"
		"  -s MiB        memory per measurement, a multiple of 2 (default 1024, at least 128)\n"
		"  -n REPEATS    runs per figure (default 5, 1-64)\n"
		"  -b BENCH_LOG  a make bench log: predict its THP and 4 KiB fault-in cases\n"
		"                from their skipped= shares (default: all clears skipped)\n");
}

static long parse(const char *opt, const char *arg, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || end == arg || *end || v < min || v > max) {
		fprintf(stderr, "hw_costs: %s wants a number from %ld to %ld, not '%s'\n",
			opt, min, max, arg);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const char *const cases[] = {
		"thp-populate", "thp-mlock", "pin-longterm-thp", "balloon-thp-populate",
		"4k-populate", "4k-touch", "balloon-4k-populate",
	};
	struct fault_cost thp, small;
	const char *log = NULL;
	double undisturbed;
	size_t len = GIB;
	int repeats = 5, opt;
	unsigned int i;
	char *buf;

	while ((opt = getopt(argc, argv, "s:n:b:h")) != -1) {
		switch (opt) {
		case 's':
			len = parse("-s", optarg, 128, 1 << 20) * MIB;
			if (len % EXTENT) {
				fprintf(stderr, "hw_costs: -s wants a multiple of 2 MiB\n");
				return 2;
			}
			break;
		case 'n':
			repeats = parse("-n", optarg, 1, 64);
			break;
		case 'b':
			log = optarg;
			if (access(log, R_OK)) {
				fprintf(stderr, "hw_costs: cannot read bench log '%s': %s\n",
					log, strerror(errno));
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "hw_costs: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	for (i = 0; i < NR_METHODS; i++)
		methods[i].present = methods[i].fn != clear_clzero || cpu_has_clzero();

	loadavg("before");
	buf = map(len, true);
	if (madvise(buf, len, MADV_POPULATE_WRITE))
		die(1, "MADV_POPULATE_WRITE: %s", strerror(errno));
	printf("buffer: %zu MiB, %.0f%% THP-mapped; %d runs per figure\n\n",
	       len / MIB, 100.0 * anon_huge_kib() * KIB / len, repeats);

	measure_clears(buf, len, repeats);
	printf("| method | kernel | %s | %s | %s |\n", granularity[0],
	       granularity[1], granularity[2]);
	printf("| --- | --- | --- | --- | --- |\n");
	for (i = 0; i < NR_METHODS; i++) {
		struct method *m = &methods[i];

		if (!m->present) {
			printf("| %s | %s | not on this CPU | | |\n", m->name, m->kernel);
			continue;
		}
		printf("| %s | %s | %.1f GiB/s | %.1f GiB/s | %.1f GiB/s |\n",
		       m->name, m->kernel, m->gibs[0], m->gibs[1], m->gibs[2]);
	}

	measure_caches(buf, len, repeats, &undisturbed);
	printf("\n| method | read 2 MiB just cleared | re-read 1 MiB working set after 64 MiB cleared (%.0f us undisturbed) |\n",
	       undisturbed);
	printf("| --- | --- | --- |\n");
	for (i = 0; i < NR_METHODS; i++) {
		struct method *m = &methods[i];

		if (m->present)
			printf("| %s | %.0f us | %.0f us |\n", m->name,
			       m->after_clear_us, m->neighbour_us);
	}
	unmap(buf, len);

	thp = measure_faults(len, true, repeats);
	small = measure_faults(len, false, repeats);
	printf("\n| fault-in of 1 GiB | MADV_POPULATE_WRITE | the fault's own clear of it, mapped | clear's share |\n");
	printf("| --- | --- | --- | --- |\n");
	printf("| THP (%.0f%% THP-mapped) | %.3f s | %.3f s (rep stosb per %s) | %.0f%% |\n",
	       100 * thp.thp_share, thp.populate, thp.clear,
	       kernel_clears_extents() ? "2 MiB" : "4 KiB",
	       100 * thp.clear / thp.populate);
	printf("| 4 KiB pages | %.3f s | %.3f s (rep stosb per 4 KiB) | %.0f%% |\n",
	       small.populate, small.clear, 100 * small.clear / small.populate);

	printf("\nPrediction, not a measurement: a case's ratio on this machine if its clears\n"
	       "are skipped as the guest's bench skipped them (%s).\n\n",
	       log ? log : "no bench log: all of them");
	printf("| case | skipped | predicted ratio |\n| --- | --- | --- |\n");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fault_cost *fc = strstr(cases[i], "thp") ? &thp : &small;
		double skipped = log ? bench_skipped(log, cases[i]) : 1;
		double share = fc->clear / fc->populate;

		if (skipped < 0) {
			printf("| %s | not in the log | |\n", cases[i]);
			continue;
		}
		if (share > 1)
			share = 1;
		if (share * skipped >= 0.999)
			printf("| %s | %.0f%% | > 1000 |\n", cases[i], 100 * skipped);
		else
			printf("| %s | %.0f%% | %.2f |\n", cases[i], 100 * skipped,
			       1 / (1 - share * skipped));
	}

	printf("\nNet CPU cost of pre-zeroing 1 GiB (worker in 2 MiB extents; saved: the\n"
	       "fault's own rep stosb, per 4 KiB page, and for THP faults %s):\n\n",
	       kernel_clears_extents() ? "per 2 MiB extent" : "per 4 KiB page before 7.0");
	printf("| worker's method | worker | saved, 4 KiB faults | net | saved, THP faults | net |\n");
	printf("| --- | --- | --- | --- | --- | --- |\n");
	for (i = 0; i < NR_METHODS; i++) {
		struct method *m = &methods[i];
		double worker = 1e3 / m->gibs[1];
		double saved4k = 1e3 / methods[0].gibs[0];
		double savedthp = 1e3 / methods[0].gibs[kernel_clears_extents() ? 1 : 0];

		if (!m->present)
			continue;
		printf("| %s | %.0f ms | %.0f ms | %+.0f ms | %.0f ms | %+.0f ms |\n",
		       m->name, worker, saved4k, worker - saved4k, savedthp,
		       worker - savedthp);
	}
	printf("\n");
	loadavg("after");
	return 0;
}
