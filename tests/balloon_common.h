/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for the kselftests that run next to a virtio-balloon with free
 * page reporting (QEMU: -device virtio-balloon-pci,free-page-reporting=on):
 * loading the driver with or without host zeroing, the page reporting sysfs
 * files, the kernel log, and the QEMU monitor, for the tests that inflate
 * and deflate the balloon: only the host can, so they write "balloon N"
 * to the guest's third serial port, /dev/ttyS2, which the zero_page
 * project's QEMU runner (vm-run --balloon) connects to QEMU's human
 * monitor. Without it those cases skip.
 */
#ifndef BALLOON_COMMON_H
#define BALLOON_COMMON_H

#include <dirent.h>
#include <termios.h>

#include "zero_page_common.h"

#define BALLOON_DRV "/sys/bus/virtio/drivers/virtio_balloon"
#define PR_DIR "/sys/kernel/mm/page_reporting"
#define BALLOON_MONITOR "/dev/ttyS2"

/*
 * The name of the virtio device ("virtio0") that virtio_balloon is bound
 * to, in name[size]; false if it is not bound (its probe failed).
 */
static inline bool balloon_device_name(char *name, size_t size)
{
	struct dirent *de;
	bool bound = false;
	DIR *d = opendir(BALLOON_DRV);

	if (!d)
		return false;
	while (!bound && (de = readdir(d)))
		if (!strncmp(de->d_name, "virtio", 6)) {
			snprintf(name, size, "%s", de->d_name);
			bound = true;
		}
	closedir(d);
	return bound;
}

/* Whether virtio_balloon is bound to a device (its probe succeeded). */
static inline bool balloon_bound(void)
{
	char name[256];

	return balloon_device_name(name, sizeof(name));
}

/*
 * Interrupts of the bound balloon on all CPUs, or -1: those of its
 * configuration vector with MSI-X (the host changed num_pages or sent a
 * free page hint command), all of the device's otherwise (INTx).
 */
static inline long long balloon_interrupts(void)
{
	char name[256], line[1024], *p, *end, *last;
	long long sum = -1, config = -1;
	size_t len;
	FILE *f;

	if (!balloon_device_name(name, sizeof(name)))
		return -1;
	f = fopen("/proc/interrupts", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		long long n = 0;

		/* "IRQ:  count-cpu0  count-cpu1 ... chip ... virtio0[-config]" */
		len = strcspn(line, "\n");
		line[len] = '\0';
		last = strrchr(line, ' ');
		p = strchr(line, ':');
		if (!last || !p || strncmp(++last, name, strlen(name)))
			continue;
		for (p++;; p = end) {
			long long c = strtoll(p, &end, 10);

			if (end == p)
				break;
			n += c;
		}
		if (!strcmp(last + strlen(name), "-config"))
			config = n;
		else if (!last[strlen(name)])
			sum = n;
	}
	fclose(f);
	return config >= 0 ? config : sum;
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
		if (sysfs_read(path, buf, sizeof(buf)) > 0 && strtoul(buf, NULL, 0) == 5)
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
		ksft_exit_skip("no virtio-balloon device\n");
	if (access(PR_DIR "/flush", W_OK))
		ksft_exit_skip(PR_DIR "/flush does not exist\n");
	if (!module_loaded("virtio_balloon") && !load_module("virtio_balloon", NULL))
		ksft_exit_skip("virtio_balloon is not available\n");
}

/*
 * As balloon_require(), for the tests of host zeroing: also needs the
 * prezero_host_* counters and verify_zeroed (whose counters it returns as
 * zp_verify_require() does), and saves the THP settings.
 */
static inline void balloon_host_zero_require(long long *vfailed, long long *vchecked)
{
	balloon_require();
	if (vmstat_get("prezero_host_checked") < 0)
		ksft_exit_skip("no prezero_host_* counters in /proc/vmstat\n");
	zp_verify_require(vfailed, vchecked);
	thp_save_settings();
	anon_thp_setup();
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

	if (sysfs_read(PR_DIR "/devices", buf, sizeof(buf)) < 0)
		return false;
	snprintf(line, sizeof(line), "%s %s\n", name, state);
	return strstr(buf, line);
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
