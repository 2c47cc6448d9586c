/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the kselftests that run next to a virtio-balloon with free
 * page reporting (vm-run --balloon): loading the driver with or without
 * host zeroing, the page reporting sysfs files, the kernel log, and the
 * QEMU monitor, which vm-run connects to the guest's /dev/ttyS2 so that a
 * test can inflate and deflate the balloon.
 */
#ifndef BALLOON_COMMON_H
#define BALLOON_COMMON_H

#include <dirent.h>
#include <sys/klog.h>
#include <termios.h>

#include "zero_page_common.h"

#define BALLOON_DRV "/sys/bus/virtio/drivers/virtio_balloon"
#define PR_DIR "/sys/kernel/mm/page_reporting"
#define BALLOON_MONITOR "/dev/ttyS2"

/* Whether virtio_balloon is bound to a device (its probe succeeded). */
static inline bool balloon_bound(void)
{
	struct dirent *de;
	bool bound = false;
	DIR *d = opendir(BALLOON_DRV);

	if (!d)
		return false;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "virtio", 6))
			bound = true;
	closedir(d);
	return bound;
}

/* Whether the guest has a virtio device of the balloon type (ID 5). */
static inline bool balloon_device_present(void)
{
	char path[512], buf[32];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/sys/bus/virtio/devices");

	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/virtio/devices/%s/device", de->d_name);
		if (read_file(path, buf, sizeof(buf)) > 0 && strtoul(buf, NULL, 0) == 5)
			found = true;
	}
	closedir(d);
	return found;
}

static inline bool module_loaded(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return access(path, F_OK) == 0;
}

static inline bool load_module(const char *name, const char *args)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "modprobe %s %s", name, args ? args : "");
	return system(cmd) == 0;
}

static inline bool unload_module(const char *name)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rmmod %s 2>/dev/null", name);
	return system(cmd) == 0;
}

/*
 * (Re)loads virtio_balloon, trusting the host to zero what it is given or
 * not; returns whether the driver is bound to the device.
 */
static inline bool balloon_load(bool host_zeroes)
{
	if (module_loaded("virtio_balloon"))
		unload_module("virtio_balloon");
	if (!load_module("virtio_balloon",
			 host_zeroes ? "host_zeroes_pages=1" : "host_zeroes_pages=0"))
		return false;
	return balloon_bound();
}

/* Skips the test unless the guest has a balloon and the driver loads. */
static inline void balloon_require(void)
{
	if (!balloon_device_present())
		ksft_exit_skip("no virtio-balloon device (run with vm-run --balloon)\n");
	if (access(PR_DIR "/flush", W_OK))
		ksft_exit_skip(PR_DIR "/flush does not exist\n");
	if (!module_loaded("virtio_balloon") && !load_module("virtio_balloon", NULL))
		ksft_exit_skip("virtio_balloon is not available\n");
}

/* An immediate reporting pass of whichever device reports: 0 or -errno. */
static inline int pr_flush(void)
{
	return write_str(PR_DIR "/flush", "1");
}

/* Whether the device `name` has the state `state` in PR_DIR/devices. */
static inline bool pr_device_is(const char *name, const char *state)
{
	char buf[256], line[128];

	if (read_file(PR_DIR "/devices", buf, sizeof(buf)) < 0)
		return false;
	snprintf(line, sizeof(line), "%s %s\n", name, state);
	return strstr(buf, line) != NULL;
}

/* Number of kernel log lines containing `needle`, -1 on error. */
static inline int klog_count(const char *needle)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0), len, n = 0;
	char *buf, *p;

	if (size <= 0)
		return -1;
	buf = malloc(size + 1);
	if (!buf)
		return -1;
	len = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (len < 0) {
		free(buf);
		return -1;
	}
	buf[len] = '\0';
	for (p = buf; (p = strstr(p, needle)); p++)
		n++;
	free(buf);
	return n;
}

/* Sends one command line to the QEMU monitor; returns 0 or -errno. */
static inline int balloon_monitor(const char *cmd)
{
	struct termios t;
	int fd = open(BALLOON_MONITOR, O_RDWR | O_NOCTTY);
	ssize_t len = strlen(cmd), n;

	if (fd < 0)
		return -errno;
	/* Raw: no echo of the monitor's output back into the monitor. */
	if (!tcgetattr(fd, &t)) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	n = write(fd, cmd, len);
	if (n == len)
		n = write(fd, "\n", 1) == 1 ? len : -1;
	tcdrain(fd);
	close(fd);
	return n == len ? 0 : -EIO;
}

/*
 * Asks the host for a guest of `target_mib` MiB and waits (at most 120 s)
 * until the balloon moved by `pages` pages: balloon_inflate or
 * balloon_deflate in /proc/vmstat. Returns whether it did.
 */
static inline bool balloon_resize(unsigned long target_mib, const char *counter,
				  long long pages)
{
	long long start = vmstat_get(counter);
	char cmd[64];
	int i;

	snprintf(cmd, sizeof(cmd), "balloon %lu", target_mib);
	if (balloon_monitor(cmd))
		return false;
	for (i = 0; i < 1200; i++) {
		if (vmstat_get(counter) - start >= pages)
			return true;
		usleep(100000);
	}
	return false;
}

#endif /* BALLOON_COMMON_H */
