/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the kselftests of zero_page and hugetlb_prezero, in the
 * spirit of tools/testing/selftests/mm/vm_util.c and thp_settings.c: reading
 * and writing sysfs and procfs files, /proc/vmstat and /proc/meminfo
 * counters, saving and restoring the THP mode.
 */
#ifndef PREZERO_COMMON_H
#define PREZERO_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"

#define MIB (1UL << 20)
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"

/* Writes exactly len bytes; returns 0 or -errno. */
static inline int write_file(const char *path, const char *buf, size_t len)
{
	ssize_t ret;
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	ret = write(fd, buf, len);
	if (ret < 0)
		err = -errno;
	else if ((size_t)ret != len)
		err = -EIO;
	close(fd);
	return err;
}

/* Reads a file into buf (NUL-terminated); returns the length or -errno. */
static inline ssize_t read_file(const char *path, char *buf, size_t size)
{
	ssize_t ret;
	int fd, err;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	ret = read(fd, buf, size - 1);
	err = errno;
	close(fd);
	if (ret < 0)
		return -err;
	buf[ret] = '\0';
	return ret;
}

/* CLOCK_MONOTONIC in seconds. */
static inline double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Waits up to @secs for the child @pid: returns its exit status, 128 if a
 * signal killed it, or -1 if it still runs.
 */
static inline int wait_child(pid_t pid, double secs)
{
	double start = now_secs();
	int status;

	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
		usleep(1000);
	} while (now_secs() - start < secs);
	return -1;
}

/* Reads a number from a file; -1 on error. */
static inline long long read_num_file(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtoll(buf, NULL, 10);
}

static inline int write_str(const char *path, const char *s)
{
	return write_file(path, s, strlen(s));
}

/* A counter of /proc/vmstat, or -1 if it does not exist. */
static inline long long vmstat_get(const char *name)
{
	char line[256];
	size_t len = strlen(name);
	long long val = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ' ') {
			val = strtoll(line + len + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return val;
}

/* A /proc/meminfo field in bytes, or 0. */
static inline unsigned long meminfo_get(const char *name)
{
	char line[256];
	size_t len = strlen(name);
	unsigned long val = 0;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, name, len) && line[len] == ':') {
			val = strtoul(line + len + 1, NULL, 10) * 1024;
			break;
		}
	}
	fclose(f);
	return val;
}

/*
 * Reads the selected value of a sysfs mode file ("always [madvise] never"
 * -> "madvise") into buf; returns false if there is none.
 */
static inline bool mode_read(const char *path, char *buf, size_t size)
{
	char line[256], *l, *r;

	if (read_file(path, line, sizeof(line)) <= 0)
		return false;
	l = strchr(line, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!l || !r)
		return false;
	*r = '\0';
	snprintf(buf, size, "%s", l + 1);
	return true;
}

/* The THP mode ("always", "madvise" or "never"), saved by thp_save(). */
static char thp_saved[64];

/* Saves the THP mode, for thp_restore(). */
static inline void thp_save(void)
{
	mode_read(THP_ENABLED, thp_saved, sizeof(thp_saved));
}

static inline void thp_restore(void)
{
	if (thp_saved[0])
		write_file(THP_ENABLED, thp_saved, strlen(thp_saved));
}

static inline bool thp_set(const char *mode)
{
	return write_file(THP_ENABLED, mode, strlen(mode)) == 0;
}

#define SHMEM_ENABLED "/sys/kernel/mm/transparent_hugepage/shmem_enabled"

/* The THP mode of shmem (memfd, shared anonymous memory), see thp_save(). */
static char shmem_thp_saved[64];

static inline void shmem_thp_restore(void)
{
	if (shmem_thp_saved[0])
		write_file(SHMEM_ENABLED, shmem_thp_saved, strlen(shmem_thp_saved));
}

/* Saves the shmem THP mode and restores it at exit; false if there is none. */
static inline bool shmem_thp_save(void)
{
	if (!mode_read(SHMEM_ENABLED, shmem_thp_saved, sizeof(shmem_thp_saved)))
		return false;
	atexit(shmem_thp_restore);
	return true;
}

/* THP for shmem ("always") or base pages only ("never"). */
static inline bool shmem_thp_set(bool huge)
{
	const char *mode = huge ? "always" : "never";

	return write_file(SHMEM_ENABLED, mode, strlen(mode)) == 0;
}

/*
 * Share (percent) of the free memory of all zones that is in free blocks of
 * at least `order` (/proc/buddyinfo), -1 on error: what is left for THP
 * (order 9) after a workload.
 */
static inline double free_share_from_order(int order)
{
	unsigned long long total = 0, high = 0, n;
	char line[512], *p, *end;
	FILE *f = fopen("/proc/buddyinfo", "r");
	int o;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = strstr(line, "zone");
		if (!p)
			continue;
		p += 4;
		while (*p == ' ')
			p++;
		while (*p && *p != ' ')
			p++;
		for (o = 0; ; o++) {
			n = strtoull(p, &end, 10);
			if (end == p)
				break;
			p = end;
			total += n << o;
			if (o >= order)
				high += n << o;
		}
	}
	fclose(f);
	return total ? 100.0 * high / total : -1;
}

/* Whether the kernel command line has @arg (e.g. "init_on_free=1"). */
static inline bool booted_with(const char *arg)
{
	char cmdline[4096];

	return read_file("/proc/cmdline", cmdline, sizeof(cmdline)) > 0 &&
	       strstr(cmdline, arg);
}

/* Bits of /proc/kpageflags (include/uapi/linux/kernel-page-flags.h). */
#define KPF_OWNER_2 34

/*
 * Pages in the system with every bit of @mask set in /proc/kpageflags, -1
 * on error. A folio's flags show on each of its pages.
 */
static inline long kpageflags_count_all(uint64_t mask)
{
	static uint64_t buf[4096];
	long n = 0;
	ssize_t got;
	int fd = open("/proc/kpageflags", O_RDONLY);

	if (fd < 0)
		return -1;
	while ((got = read(fd, buf, sizeof(buf))) > 0) {
		for (size_t i = 0; i < (size_t)got / sizeof(buf[0]); i++)
			n += (buf[i] & mask) == mask;
	}
	close(fd);
	return got < 0 ? -1 : n;
}

/* Pages in the system with bit @kpf in /proc/kpageflags, -1 on error. */
static inline long kpageflags_count(int kpf)
{
	return kpageflags_count_all(1ULL << kpf);
}

/* The kernel log, NUL-terminated, to be freed; NULL on error. */
static inline char *klog_read(void)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), len;
	char *buf;

	if (size <= 0)
		return NULL;
	buf = malloc(size + 1);
	if (!buf)
		return NULL;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (len < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

/* Number of times the kernel log holds `needle` (not empty), -1 on error. */
static inline int klog_count(const char *needle)
{
	char *buf, *p;
	int n = 0;

	if (!*needle)
		return -1;
	buf = klog_read();
	if (!buf)
		return -1;
	for (p = buf; (p = strstr(p, needle)); p++)
		n++;
	free(buf);
	return n;
}

/* Prints the kernel log lines containing `needle` as TAP comments. */
static inline void klog_print(const char *needle)
{
	char *buf = klog_read(), *line, *save;

	if (!buf)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle))
			ksft_print_msg("dmesg: %s\n", line);
	free(buf);
}

#endif /* PREZERO_COMMON_H */
