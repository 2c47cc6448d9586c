/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup v2 helpers for the tests: a child cgroup with a CPU quota or a
 * memory limit, removed at exit. cgroup2 must be mounted on
 * /sys/fs/cgroup.
 */
#ifndef CGROUP_UTIL_H
#define CGROUP_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define CG_ROOT "/sys/fs/cgroup"

static char cg_made[4][128];
static int cg_nr_made;

static inline int cg_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Moves every process left in the cgroups to the root and removes them. */
static inline void cg_cleanup(void)
{
	char path[256], line[64];

	for (int i = cg_nr_made - 1; i >= 0; i--) {
		FILE *f;

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg_made[i]);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			cg_write(CG_ROOT "/cgroup.procs", line);
		if (f)
			fclose(f);
		rmdir(cg_made[i]);
	}
	cg_nr_made = 0;
}

/*
 * Creates CG_ROOT/@name with @controller ("cpu" or "memory") enabled, and
 * writes @val to its @file (e.g. "cpu.max", "1000 100000"). Returns false if
 * cgroup v2 or the controller is missing.
 */
static inline bool cg_create(const char *name, const char *controller,
			     const char *file, const char *val)
{
	char path[256], ctl[32];
	char *dir;

	if (cg_nr_made == 4)
		return false;
	snprintf(ctl, sizeof(ctl), "+%s", controller);
	if (cg_write(CG_ROOT "/cgroup.subtree_control", ctl))
		return false;
	dir = cg_made[cg_nr_made];
	snprintf(dir, sizeof(cg_made[0]), CG_ROOT "/%s", name);
	if (mkdir(dir, 0755) && errno != EEXIST)
		return false;
	if (cg_nr_made++ == 0)
		atexit(cg_cleanup);
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return cg_write(path, val) == 0;
}

/* Moves @pid (0: the caller) into CG_ROOT/@name. */
static inline bool cg_enter(const char *name, pid_t pid)
{
	char path[256], buf[32];

	snprintf(path, sizeof(path), CG_ROOT "/%s/cgroup.procs", name);
	snprintf(buf, sizeof(buf), "%d\n", pid ? pid : getpid());
	return cg_write(path, buf) == 0;
}

#endif /* CGROUP_UTIL_H */
