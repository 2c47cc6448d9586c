// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the kselftests of zero_page and hugetlb_prezero: see
 * prezero_common.h. Linked into every test.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* sched_setaffinity() */
#endif
#include <sched.h>

#include "prezero_common.h"

int sysfs_write(const char *path, const char *buf, size_t len)
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

ssize_t sysfs_read(const char *path, char *buf, size_t size)
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

unsigned long pmd_size(void)
{
	static unsigned long size;

	if (!size)
		size = read_pmd_pagesize();
	if (!size)	/* a page of PTEs of 8 bytes each */
		size = (unsigned long)psize() * (psize() / 8);
	return size;
}

int pmd_order(void)
{
	return __builtin_ctzl(pmd_size() / psize());
}

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

unsigned long anon_thp_size(void)
{
	if (pmd_size() <= 32 * MIB ||
	    access(THP_DIR "/hugepages-2048kB/enabled", F_OK))
		return pmd_size();
	return 2 * MIB;
}

void anon_thp_setup(void)
{
	char path[128];

	if (anon_thp_size() == pmd_size())
		return;
	write_str(THP_DIR "/hugepages-2048kB/enabled", "inherit");
	snprintf(path, sizeof(path), THP_DIR "/hugepages-%lukB/enabled", pmd_size() >> 10);
	write_str(path, "never");
}

int anon_thp_order(void)
{
	return __builtin_ctzl(anon_thp_size() / psize());
}

long long anon_thp_faults(void)
{
	if (anon_thp_size() == pmd_size())
		return vmstat_get("thp_fault_alloc");
	return read_num_file(THP_DIR "/hugepages-2048kB/stats/anon_fault_alloc");
}

double now_secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int wait_child(pid_t pid, double secs)
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

bool pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) == 0;
}

pid_t start_cpu_hog(int cpu)
{
	struct sched_param sp = { .sched_priority = 1 };
	const struct timespec gap = { .tv_nsec = 200 * 1000 };
	int ready[2];
	double start;
	pid_t pid;
	char c;

	if (pipe(ready))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		if (!pin_cpu(cpu) || sched_setscheduler(0, SCHED_FIFO, &sp))
			_exit(1);
		if (write(ready[1], "h", 1) != 1)
			_exit(1);
		close(ready[1]);
		for (;;) {
			for (start = now_secs(); now_secs() - start < 0.1;)
				;
			nanosleep(&gap, NULL);
		}
	}
	close(ready[1]);
	if (pid > 0 && read(ready[0], &c, 1) != 1) {
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(ready[0]);
	return pid;
}

void stop_cpu_hog(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

long long read_num_file(const char *path)
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

int write_str(const char *path, const char *s)
{
	return sysfs_write(path, s, strlen(s));
}

long long vmstat_get(const char *name)
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

unsigned long meminfo_get(const char *name)
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

double free_share_from_order(int order)
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

bool booted_with(const char *arg)
{
	char cmdline[4096];

	return sysfs_read("/proc/cmdline", cmdline, sizeof(cmdline)) > 0 &&
	       strstr(cmdline, arg);
}

long kpageflags_count_all(uint64_t mask)
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

long kpageflags_count(int kpf)
{
	return kpageflags_count_all(1ULL << kpf);
}

char *klog_read(void)
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

int klog_count(const char *needle)
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

void klog_print(const char *needle)
{
	char *buf = klog_read(), *line, *save;

	if (!buf)
		return;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (strstr(line, needle))
			ksft_print_msg("dmesg: %s\n", line);
	free(buf);
}
