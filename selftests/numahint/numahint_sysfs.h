/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio_numahint driver's sysfs files, for the guest tests: find the
 * bound device, read its counters, check its features; and the few other
 * helpers the test programs share.
 */
#ifndef NUMAHINT_SYSFS_H
#define NUMAHINT_SYSFS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "virtio_numahint.h"
/*
 * The kernel's kselftest.h, through -I (see the Makefile), not the host
 * tests' stand-in next to this file.
 */
#include <kselftest.h>

#define NUMAHINT_DRIVER_DIR	"/sys/bus/virtio/drivers/virtio_numahint"
#define NUMAHINT_DEVICES_DIR	"/sys/bus/virtio/devices"

/*
 * The kernel's kselftest.h does not flush what it prints: flush every
 * line, so that a test's output reaches the console as it goes (the host
 * tests wait for lines of it) and comes before a forked child's.
 */
static void __attribute__((constructor)) numahint_line_buffered(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* The device under test (virtioN) and its numahint sysfs directory. */
static char numahint_dev[NAME_MAX + 1];
static char numahint_dir[512];

/* Read a small file into @buf, NUL-terminated; -errno on failure. */
static inline int numahint_read_file(const char *path, char *buf, size_t size)
{
	ssize_t len, total = 0;
	int fd, err = 0;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -errno;
	while ((size_t)total < size - 1) {
		len = read(fd, buf + total, size - 1 - total);
		if (len < 0) {
			err = -errno;
			break;
		}
		if (!len)
			break;
		total += len;
	}
	buf[total] = '\0';
	close(fd);
	return err;
}

/*
 * Find the first device bound to virtio_numahint.  Returns 0, or -ENOENT
 * with *@why set when the module is not loaded or binds no device.
 */
static inline int numahint_find_device(const char **why)
{
	char *name = numahint_dev;
	struct dirent *de;
	DIR *dir;

	dir = opendir(NUMAHINT_DRIVER_DIR);
	if (!dir) {
		*why = "virtio_numahint not loaded";
		return -ENOENT;
	}
	while ((de = readdir(dir))) {
		if (!strncmp(de->d_name, "virtio", 6) &&
		    (!name[0] || strcmp(de->d_name, name) < 0))
			snprintf(name, sizeof(numahint_dev), "%s", de->d_name);
	}
	closedir(dir);
	if (!name[0]) {
		*why = "no device bound to virtio_numahint";
		return -ENOENT;
	}
	snprintf(numahint_dir, sizeof(numahint_dir), "%s/%s/numahint",
		 NUMAHINT_DEVICES_DIR, name);
	return 0;
}

/* Read one of the numahint sysfs files as a decimal number. */
static inline int numahint_read_attr(const char *name, unsigned long long *val)
{
	char path[PATH_MAX], buf[64], *end;
	int err;

	snprintf(path, sizeof(path), "%s/%s", numahint_dir, name);
	err = numahint_read_file(path, buf, sizeof(buf));
	if (err) {
		ksft_print_msg("cannot read %s: %s\n", path, strerror(-err));
		return -1;
	}
	errno = 0;
	*val = strtoull(buf, &end, 10);
	if (errno || end == buf || strcmp(end, "\n")) {
		ksft_print_msg("%s: not a decimal number: '%s'\n", path, buf);
		return -1;
	}
	return 0;
}

/*
 * Whether feature bit @bit (VIRTIO_NUMAHINT_F_*) was negotiated, from the
 * virtio core's features file: one '0' or '1' per bit, bit 0 first.
 */
static inline bool numahint_has_feature(unsigned int bit)
{
	char path[PATH_MAX], buf[256];

	snprintf(path, sizeof(path), "%s/%s/features", NUMAHINT_DEVICES_DIR,
		 numahint_dev);
	if (numahint_read_file(path, buf, sizeof(buf)) || bit >= strlen(buf))
		return false;
	return buf[bit] == '1';
}

/* The driver's counters, STAT_<ID>, from its own list of them. */
#define NUMAHINT_STAT(_id, ...)	STAT_##_id,
enum numahint_stat {
#include "virtio_numahint_stats.h"
	NR_STATS
};

#undef NUMAHINT_STAT

/* The sysfs file of counter @stat. */
static inline const char *numahint_stat_name(enum numahint_stat stat)
{
#define NUMAHINT_STAT(_id, _name)	(#_name),
	static const char * const names[NR_STATS] = {
#include "virtio_numahint_stats.h"
	};
#undef NUMAHINT_STAT

	return names[stat];
}

/* Read every counter into @val; -1, saying which, if one fails. */
static inline int numahint_read_stats(unsigned long long *val)
{
	int i;

	for (i = 0; i < NR_STATS; i++)
		if (numahint_read_attr(numahint_stat_name(i), &val[i]))
			return -1;
	return 0;
}

/*
 * Why free page reports cannot be tested on the device found, or NULL if
 * they can: free_report negotiated and the driver registered for them.
 */
static inline const char *numahint_report_unusable(void)
{
	unsigned long long active;

	if (!numahint_has_feature(VIRTIO_NUMAHINT_F_FREE_REPORT))
		return "free_report not negotiated";
	if (numahint_read_attr("report_active", &active))
		return "cannot read report_active";
	if (active != 1)
		return "report_active is 0: another driver has free page reporting";
	return NULL;
}

/*
 * Whether first-touch events can be tested on the device found: 1 if
 * first_touch was negotiated and the hook is active; 0 if it was not
 * negotiated (a skip); -1 if it was but the hook is off, or touch_active
 * cannot be read (a broken driver: the kernel log says why).  *@why says
 * why not.
 */
static inline int numahint_touch_usable(const char **why)
{
	unsigned long long active;

	if (!numahint_has_feature(VIRTIO_NUMAHINT_F_FIRST_TOUCH)) {
		*why = "first_touch not negotiated";
		return 0;
	}
	if (numahint_read_attr("touch_active", &active) || active != 1) {
		*why = "first_touch negotiated, hook off: see the kernel log";
		return -1;
	}
	return 1;
}

/* Seconds on the monotonic clock. */
static inline double numahint_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Sleep @seconds, fractions included. */
static inline void numahint_sleep(double seconds)
{
	struct timespec ts = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (time_t)seconds) * 1e9),
	};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/*
 * In a child process, write every 4 KiB of @bytes of anonymous memory
 * (in base pages when @no_thp: one allocation event per page), hold it
 * @hold seconds (so that the host, sampling from outside, sees all of it
 * resident), and exit, freeing it.  Returns 0 once the child exited
 * cleanly, -1 otherwise.
 */
static inline int numahint_touch_in_child(unsigned long long bytes,
					  bool no_thp, double hold)
{
	unsigned long long off;
	int status;
	char *mem;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		ksft_print_msg("fork: %s\n", strerror(errno));
		return -1;
	}
	if (!pid) {
		mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			ksft_print_msg("mmap %llu MiB: %s\n", bytes >> 20,
				       strerror(errno));
			_exit(1);
		}
		if (no_thp && madvise(mem, bytes, MADV_NOHUGEPAGE) &&
		    errno != EINVAL)
			ksft_print_msg("madvise(MADV_NOHUGEPAGE): %s\n",
				       strerror(errno));
		for (off = 0; off < bytes; off += 4096)
			mem[off] = (char)(off >> 12) | 1;
		numahint_sleep(hold);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		ksft_print_msg("child did not touch its memory and exit cleanly\n");
		return -1;
	}
	return 0;
}

/*
 * A size argument: a number with an optional K, M or G suffix (powers of
 * 1024).  Returns 0 for anything else.
 */
static inline unsigned long long numahint_parse_size(const char *arg)
{
	unsigned long long val;
	char *end;

	errno = 0;
	val = strtoull(arg, &end, 0);
	if (errno || end == arg)
		return 0;
	if (*end && strchr("kK", *end))
		val <<= 10;
	else if (*end && strchr("mM", *end))
		val <<= 20;
	else if (*end && strchr("gG", *end))
		val <<= 30;
	else if (*end)
		return 0;
	return end[0] && end[1] ? 0 : val;
}

#endif /* NUMAHINT_SYSFS_H */
