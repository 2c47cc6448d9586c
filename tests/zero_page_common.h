/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the zero_page kselftests: loading the module, reading
 * and writing /sys/kernel/mm/zero_page, saving and restoring its knobs and the
 * THP mode, /proc/vmstat and /proc/meminfo counters, and memory hogs.
 */
#ifndef ZERO_PAGE_COMMON_H
#define ZERO_PAGE_COMMON_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"

#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define ZP_DIR "/sys/kernel/mm/zero_page"
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#define MIB (1UL << 20)
#define PAGE_SZ 4096UL
#define THP_SZ (2 * MIB)

static inline bool zp_present(void)
{
	return access(ZP_DIR "/enabled", F_OK) == 0;
}

/* Loads the module if needed; skips the whole test if it does not exist. */
static inline void zp_require(void)
{
	if (getuid() != 0)
		ksft_exit_skip("must run as root\n");
	if (!zp_present() && system("modprobe zero_page 2>/dev/null") != 0)
		ksft_exit_skip("module zero_page is not available\n");
	if (!zp_present())
		ksft_exit_skip(ZP_DIR " does not exist\n");
}

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

static inline int zp_write(const char *name, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), ZP_DIR "/%s", name);
	return write_file(path, val, strlen(val));
}

static inline int zp_write_ul(const char *name, unsigned long val)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lu", val);
	return zp_write(name, buf);
}

/* Reads a decimal file of the module; exits with a failure if unreadable. */
static inline unsigned long zp_read(const char *name)
{
	char path[256], buf[64], *end;
	unsigned long val;

	snprintf(path, sizeof(path), ZP_DIR "/%s", name);
	if (read_file(path, buf, sizeof(buf)) < 0)
		ksft_exit_fail_msg("cannot read %s: %s\n", path, strerror(errno));
	errno = 0;
	val = strtoul(buf, &end, 10);
	if (errno || end == buf || strcmp(end, "\n"))
		ksft_exit_fail_msg("%s: malformed content '%s'\n", path, buf);
	return val;
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

/* MAX_PAGE_ORDER, from the number of columns of /proc/buddyinfo. */
static inline int max_page_order(void)
{
	char line[512], *p;
	int cols = 0;
	FILE *f = fopen("/proc/buddyinfo", "r");

	if (!f || !fgets(line, sizeof(line), f)) {
		if (f)
			fclose(f);
		return 10;
	}
	fclose(f);
	p = strstr(line, "zone");
	if (!p)
		return 10;
	p += 4;
	while (*p == ' ')
		p++;
	while (*p && *p != ' ')	/* zone name */
		p++;
	for (;;) {
		while (*p == ' ')
			p++;
		if (*p < '0' || *p > '9')
			break;
		cols++;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return cols ? cols - 1 : 10;
}

/* The knobs, saved at start and restored at exit. */
static const char *const zp_knobs[] = {
	"batch_size", "delay_millisecs", "mini_order", "nontemporal",
};
#define ZP_NR_KNOBS ARRAY_SIZE(zp_knobs)

static unsigned long zp_saved[ZP_NR_KNOBS];
static unsigned long zp_saved_enabled;
static bool zp_saved_valid;
static char thp_saved[64];
static pid_t zp_owner;

static inline void zp_restore(void)
{
	unsigned int i;

	if (getpid() != zp_owner)
		return;
	if (zp_saved_valid && zp_present()) {
		zp_write("enabled", "0");
		for (i = 0; i < ZP_NR_KNOBS; i++)
			zp_write_ul(zp_knobs[i], zp_saved[i]);
		if (zp_saved_enabled)
			zp_write("enabled", "1");
	}
	if (thp_saved[0])
		write_file(THP_ENABLED, thp_saved, strlen(thp_saved));
}

/* Saves the module's knobs and the THP mode; they are restored at exit. */
static inline void zp_save(void)
{
	char buf[256], *l, *r;
	unsigned int i;

	zp_owner = getpid();
	for (i = 0; i < ZP_NR_KNOBS; i++)
		zp_saved[i] = zp_read(zp_knobs[i]);
	zp_saved_enabled = zp_read("enabled");
	zp_saved_valid = true;

	/* "always [madvise] never" -> "madvise" */
	if (read_file(THP_ENABLED, buf, sizeof(buf)) > 0) {
		l = strchr(buf, '[');
		r = l ? strchr(l, ']') : NULL;
		if (l && r) {
			*r = '\0';
			snprintf(thp_saved, sizeof(thp_saved), "%s", l + 1);
		}
	}
	atexit(zp_restore);
}

static inline bool thp_set(const char *mode)
{
	return write_file(THP_ENABLED, mode, strlen(mode)) == 0;
}

/* The knobs back to the module's defaults, disabled. */
static inline void zp_defaults(void)
{
	zp_write("enabled", "0");
	zp_write("batch_size", "67108864");
	zp_write("delay_millisecs", "1000");
	zp_write("mini_order", "1");
}

/* The page allocator's verification of pre-zeroed pages (patch 0007). */
#define ZP_VERIFY "/sys/module/page_reporting/parameters/verify_zeroed"

/* verify_zeroed as the test found it, put back by zp_verify_restore(). */
static char zp_saved_verify[8];

/*
 * Skips the test unless the kernel offers verify_zeroed and its counters;
 * saves the setting and returns the counters as they are now.
 */
static inline void zp_verify_require(long long *failed, long long *checked)
{
	if (read_file(ZP_VERIFY, zp_saved_verify, sizeof(zp_saved_verify)) <= 0)
		ksft_exit_skip(ZP_VERIFY " does not exist\n");
	*failed = vmstat_get("prezero_verify_failed");
	*checked = vmstat_get("prezero_verify_checked");
	if (*failed < 0 || *checked < 0)
		ksft_exit_skip("no prezero_verify_* counters in /proc/vmstat\n");
}

static inline void zp_verify_restore(void)
{
	if (zp_saved_verify[0])
		write_file(ZP_VERIFY, zp_saved_verify[0] == 'Y' ? "1" : "0", 1);
}

/*
 * Enables zero_page with the default knobs, a 10 ms delay and the
 * verification of pre-zeroed pages on; skips the test when zero_page
 * cannot be enabled.
 */
static inline void zp_enable_verified(void)
{
	int ret;

	zp_defaults();
	if (write_file(ZP_VERIFY, "1", 1))
		ksft_exit_fail_msg("cannot enable verify_zeroed\n");
	zp_write("delay_millisecs", "10");
	ret = zp_write("enabled", "1");
	if (ret)
		ksft_exit_skip("cannot enable zero_page: %s\n", strerror(-ret));
}

/* Maps len bytes of private anonymous memory. */
static inline char *map_anon(size_t len, int flags, int advice)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (advice >= 0)
		madvise(p, len, advice);
	return p;
}

/* Offset of the first non-zero byte of [p, p + len), or -1. */
static inline long first_nonzero(const char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i, j;

	for (i = 0; i < len / 8; i++) {
		if (w[i]) {
			for (j = i * 8; j < i * 8 + 8; j++)
				if (p[j])
					return j;
		}
	}
	return -1;
}

/*
 * Dirties most free memory with a non-zero pattern and frees it again, so
 * that the free lists are full of stale data. Leaves `keep` bytes free.
 */
static inline size_t dirty_free_memory(size_t keep, unsigned char pattern)
{
	size_t avail = meminfo_get("MemFree");
	size_t len, done = 0;
	char *p;

	if (avail <= keep + 32 * MIB)
		return 0;
	len = (avail - keep) & ~(THP_SZ - 1);
	p = map_anon(len, MAP_NORESERVE, MADV_HUGEPAGE);
	if (!p)
		return 0;
	/* Populate chunk by chunk so that a failure still dirties something. */
	for (done = 0; done < len; done += 16 * MIB) {
		size_t n = len - done < 16 * MIB ? len - done : 16 * MIB;

		memset(p + done, pattern, n);
	}
	munmap(p, len);
	return len;
}

/*
 * Allocates, dirties and frees len bytes, so that the free lists get blocks
 * that no reporting device has seen yet (blocks reported earlier, by this
 * module or by virtio-balloon, keep PG_reported while they stay free and are
 * skipped by later passes and flushes).
 */
static inline void churn_memory(size_t len)
{
	char *p = map_anon(len, MAP_NORESERVE, -1);

	if (!p)
		return;
	memset(p, 0x3c, len);
	munmap(p, len);
}

#endif /* ZERO_PAGE_COMMON_H */
