// SPDX-License-Identifier: GPL-2.0
/*
 * Guest-side checks of the virtio_numahint driver: its sysfs files and,
 * when the device offers VIRTIO_NUMAHINT_F_LOCALITY_PROBE, the debugfs
 * probe file end to end through the device.
 *
 * Runs as root in a guest with the module loaded and debugfs mounted on
 * /sys/kernel/debug; skips when there is no module or no device.  Each
 * test runs in a child of its own (kselftest_harness.h) and checks what
 * it caused itself, so that they do not depend on their order.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "virtio_numahint.h"
#include "numahint_sysfs.h"
#include "kselftest_harness.h"

#define DEBUGFS_MOUNT	"/sys/kernel/debug"
#define DEBUGFS_DIR	DEBUGFS_MOUNT "/virtio_numahint"
#define DEBUGFS_MAGIC	0x64626720

/* Memory a child touches for the counters to move, and how long after. */
#define COUNTER_LOAD	(16ULL << 20)
#define COUNTER_PAGES	(COUNTER_LOAD >> 12)
/* Time for its first-touch events to reach the device, beyond touch_flush_ms. */
#define COUNTER_LIMIT_S	10.0
#define POLL_S		0.05

/* The device under test's debugfs probe file. */
static char probe_path[512];
/* Whether locality_probe was negotiated. */
static bool has_probe;
/* Whether debugfs is mounted where the probe file is expected. */
static bool has_debugfs;

/* Write @cmd to the probe file in one write(); 0 or the errno. */
static int probe_write(const char *cmd)
{
	ssize_t len;
	int fd, err = 0;

	fd = open(probe_path, O_WRONLY);
	if (fd < 0)
		return errno;
	len = write(fd, cmd, strlen(cmd));
	if (len < 0)
		err = errno;
	else if ((size_t)len != strlen(cmd))
		err = EIO;
	close(fd);
	return err;
}

/*
 * Parse one answer line, "<kind> <value> node <n>" or "... node none";
 * *node is -1 for none.
 */
static bool parse_answer(const char *line, char *kind, unsigned long long *value,
			 long long *node)
{
	char node_str[32], *end;
	long long v;

	if (sscanf(line, "%7s %lli node %31s", kind, &v, node_str) != 3)
		return false;
	*value = (unsigned long long)v;
	if (!strcmp(node_str, "none")) {
		*node = -1;
		return true;
	}
	errno = 0;
	*node = strtoll(node_str, &end, 10);
	return !errno && *end == '\0' && *node >= 0 &&
	       *node < VIRTIO_NUMAHINT_NODE_NONE;
}

/*
 * Write @cmd, then check that the probe file answers with one line per
 * expected (kind, value) pair, in order, and that exactly one probe
 * request was sent for it.
 */
static bool probe_and_check(const char *cmd, const char *want_kind,
			    const unsigned long long *want_values,
			    unsigned int nr)
{
	unsigned long long before, after, value;
	char buf[4096], kind[8], *line, *save;
	unsigned int lines = 0;
	long long node;
	int err;

	if (numahint_read_attr("probe_requests", &before))
		return false;
	err = probe_write(cmd);
	if (err) {
		ksft_print_msg("write '%s': %s\n", cmd, strerror(err));
		return false;
	}
	if (numahint_read_attr("probe_requests", &after))
		return false;
	if (after != before + 1) {
		ksft_print_msg("probe_requests went from %llu to %llu, want +1\n",
			       before, after);
		return false;
	}

	err = numahint_read_file(probe_path, buf, sizeof(buf));
	if (err) {
		ksft_print_msg("read %s: %s\n", probe_path, strerror(-err));
		return false;
	}
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		ksft_print_msg("answer: %s\n", line);
		if (lines >= nr) {
			ksft_print_msg("more answer lines than entries\n");
			return false;
		}
		if (!parse_answer(line, kind, &value, &node)) {
			ksft_print_msg("cannot parse answer '%s'\n", line);
			return false;
		}
		if (strcmp(kind, want_kind) || value != want_values[lines]) {
			ksft_print_msg("answer is for %s %#llx, want %s %#llx\n",
				       kind, value, want_kind,
				       want_values[lines]);
			return false;
		}
		lines++;
	}
	if (lines != nr) {
		ksft_print_msg("%u answer lines for %u entries\n", lines, nr);
		return false;
	}
	return true;
}

/* The physical address of the page at @addr, from /proc/self/pagemap. */
static int own_page_phys(void *addr, unsigned long long *phys)
{
	long psize = sysconf(_SC_PAGESIZE);
	uint64_t entry;
	ssize_t len;
	int fd;

	fd = open("/proc/self/pagemap", O_RDONLY);
	if (fd < 0)
		return -errno;
	len = pread(fd, &entry, sizeof(entry),
		    (off_t)((uintptr_t)addr / psize * sizeof(entry)));
	close(fd);
	if (len != sizeof(entry))
		return -EIO;
	/* Bit 63: present; bits 0-54: PFN, reported as 0 without CAP_SYS_ADMIN. */
	if (!(entry & (1ULL << 63)) || !(entry & ((1ULL << 55) - 1)))
		return -EPERM;
	*phys = (entry & ((1ULL << 55) - 1)) * psize;
	return 0;
}

/* The largest buddy order, from the number of columns of /proc/buddyinfo. */
static int guest_max_page_order(void)
{
	char buf[4096], *line, *p;
	int columns = -1;

	if (numahint_read_file("/proc/buddyinfo", buf, sizeof(buf)))
		return -1;
	line = strtok(buf, "\n");
	/* "Node 0, zone   Normal  n0 n1 ... nMAX" */
	p = line ? strstr(line, "zone") : NULL;
	if (!p)
		return -1;
	p += strlen("zone");
	strtok(p, " ");		/* the zone name */
	while (strtok(NULL, " "))
		columns++;
	return columns;
}

/*
 * @what holds: @lhs <= @rhs.  Counted answers and parts are read before
 * what they answer, which is counted sent just after it is queued.
 */
static bool stat_le(unsigned long long lhs, unsigned long long rhs,
		    const char *what)
{
	if (lhs <= rhs)
		return true;
	ksft_print_msg("%s: %llu > %llu\n", what, lhs, rhs);
	return false;
}

/* Two touched, locked pages of our own and their physical addresses. */
static void *own_pages(unsigned long long phys[2])
{
	long psize = sysconf(_SC_PAGESIZE);
	char *mem;
	int i, err;

	mem = mmap(NULL, 2 * psize, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		ksft_print_msg("mmap: %s\n", strerror(errno));
		return NULL;
	}
	memset(mem, 0x5a, 2 * psize);
	/* Keep them resident while we ask about them. */
	if (mlock(mem, 2 * psize))
		ksft_print_msg("mlock: %s (going on)\n", strerror(errno));
	for (i = 0; i < 2; i++) {
		err = own_page_phys(mem + i * psize, &phys[i]);
		if (err) {
			ksft_print_msg("no physical address from pagemap: %s\n",
				       strerror(-err));
			munmap(mem, 2 * psize);
			return NULL;
		}
		ksft_print_msg("page %d at %p is at physical %#llx\n", i,
			       (void *)(mem + i * psize), phys[i]);
	}
	return mem;
}

static bool expect_refusal(const char *cmd, int want, const char *what)
{
	int err = probe_write(cmd);

	ksft_print_msg("%s: %s\n", what, err ? strerror(err) : "accepted");
	return err == want;
}

FIXTURE(driver) {
	/* Counters when the test started, to tell what it caused. */
	unsigned long long malformed_at_start, abandoned_at_start;
};

/* Find the first device bound to the driver; skip if there is none. */
FIXTURE_SETUP(driver)
{
	struct statfs fs;
	const char *why;

	if (numahint_find_device(&why))
		SKIP(return, "%s", why);
	snprintf(probe_path, sizeof(probe_path), "%s/%s/probe", DEBUGFS_DIR,
		 numahint_dev);
	has_debugfs = !statfs(DEBUGFS_MOUNT, &fs) && fs.f_type == DEBUGFS_MAGIC;
	has_probe = numahint_has_feature(VIRTIO_NUMAHINT_F_LOCALITY_PROBE);
	ASSERT_EQ(0, numahint_read_attr("resp_malformed",
					&self->malformed_at_start));
	ASSERT_EQ(0, numahint_read_attr("req_abandoned",
					&self->abandoned_at_start));
}

FIXTURE_TEARDOWN(driver)
{
}

/* Why the probe cannot be tested, or NULL if it can. */
static const char *probe_unusable(void)
{
	if (!has_probe)
		return "locality_probe not negotiated";
	if (!has_debugfs)
		return "debugfs not mounted on " DEBUGFS_MOUNT;
	return NULL;
}

/*
 * The device answered every probe of this test well-formed and in time:
 * resp_malformed and req_abandoned did not grow.
 */
static bool answers_well_formed(unsigned long long malformed_at_start,
				unsigned long long abandoned_at_start)
{
	unsigned long long malformed, abandoned;

	if (numahint_read_attr("resp_malformed", &malformed) ||
	    numahint_read_attr("req_abandoned", &abandoned))
		return false;
	ksft_print_msg("resp_malformed +%llu, req_abandoned +%llu\n",
		       malformed - malformed_at_start,
		       abandoned - abandoned_at_start);
	return malformed == malformed_at_start &&
	       abandoned == abandoned_at_start;
}

#define EXPECT_ANSWERS_WELL_FORMED()					\
	EXPECT_TRUE(answers_well_formed(self->malformed_at_start,	\
					self->abandoned_at_start))

/*
 * The device's report_order is only a suggestion, clamped by the driver:
 * what must hold is the order the driver registered, 1 up to the largest
 * buddy order while free page reports are active and 0 otherwise.
 */
TEST_F(driver, report_order_used_in_range)
{
	unsigned long long active, order, suggested;
	int max_order = guest_max_page_order();

	if (max_order < 0)
		SKIP(return, "cannot read /proc/buddyinfo");
	ASSERT_EQ(0, numahint_read_attr("report_active", &active));
	ASSERT_EQ(0, numahint_read_attr("report_order_used", &order));
	ASSERT_EQ(0, numahint_read_attr("report_order", &suggested));
	ksft_print_msg("report_order %llu (device), report_order_used %llu\n",
		       suggested, order);
	ksft_print_msg("report_active %llu, largest buddy order %d\n", active,
		       max_order);
	if (active == 1) {
		EXPECT_LE(1ULL, order);
		EXPECT_GE((unsigned long long)max_order, order);
	} else {
		EXPECT_EQ(0ULL, active);
		EXPECT_EQ(0ULL, order);
	}
}

/*
 * Every counter of the driver's list has its file, reads as a number and
 * only grows; the counters agree with each other and with the limits of
 * a request; and a process touching memory moves the first-touch
 * counters where first_touch is negotiated: events recorded for its
 * pages, requests and pages sent, pages accepted.
 */
TEST_F_TIMEOUT(driver, counters_agree, 60)
{
	unsigned long long a[NR_STATS], b[NR_STATS], active, flush_ms;
	unsigned long long max_touch, max_ranges, max_probe;
	bool ok = true, first_touch;
	double start;
	unsigned int i;

	first_touch = numahint_has_feature(VIRTIO_NUMAHINT_F_FIRST_TOUCH);
	ASSERT_EQ(0, numahint_read_attr("touch_active", &active));
	ASSERT_EQ(0, numahint_read_attr("touch_flush_ms", &flush_ms));
	ASSERT_EQ(0, numahint_read_attr("max_touch_events", &max_touch));
	ASSERT_EQ(0, numahint_read_attr("max_report_ranges", &max_ranges));
	ASSERT_EQ(0, numahint_read_attr("max_probe_entries", &max_probe));
	/* Negotiated but not hooked is a broken driver. */
	if (first_touch)
		EXPECT_EQ(1ULL, active);
	ASSERT_EQ(0, numahint_read_stats(a));
	ASSERT_EQ(0, numahint_touch_in_child(COUNTER_LOAD, true, 0));
	start = numahint_now();
	do {
		numahint_sleep(POLL_S);
		ASSERT_EQ(0, numahint_read_stats(b));
	} while (first_touch && active &&
		 b[STAT_TOUCH_PAGES_ACCEPTED] - a[STAT_TOUCH_PAGES_ACCEPTED] <
		 COUNTER_PAGES / 2 &&
		 numahint_now() - start < flush_ms / 1000.0 + COUNTER_LIMIT_S);

	for (i = 0; i < NR_STATS; i++) {
		ksft_print_msg("%s = %llu -> %llu\n", numahint_stat_name(i),
			       a[i], b[i]);
		ok &= stat_le(a[i], b[i], numahint_stat_name(i));
	}
	ok &= stat_le(a[STAT_PROBE_REQUESTS], b[STAT_PROBE_ENTRIES],
		      "probe_requests > probe_entries");
	ok &= stat_le(a[STAT_PROBE_ENTRIES], b[STAT_PROBE_REQUESTS] * max_probe,
		      "probe_entries > probe_requests * max_probe_entries");
	ok &= stat_le(a[STAT_REPORT_REQUESTS], b[STAT_REPORT_RANGES],
		      "report_requests > report_ranges");
	ok &= stat_le(a[STAT_REPORT_RANGES], b[STAT_REPORT_REQUESTS] * max_ranges,
		      "report_ranges > report_requests * max_report_ranges");
	ok &= stat_le(a[STAT_REPORT_REJECTED], b[STAT_REPORT_RANGES],
		      "report_rejected > report_ranges");
	ok &= stat_le(a[STAT_TOUCH_REQUESTS], b[STAT_TOUCH_ENTRIES],
		      "touch_requests > touch_entries");
	ok &= stat_le(a[STAT_TOUCH_ENTRIES], b[STAT_TOUCH_REQUESTS] * max_touch,
		      "touch_entries > touch_requests * max_touch_events");
	ok &= stat_le(a[STAT_TOUCH_ENTRIES], b[STAT_TOUCH_PAGES],
		      "touch_entries > touch_pages");
	ok &= stat_le(a[STAT_TOUCH_ACCEPTED] + a[STAT_TOUCH_REJECTED],
		      b[STAT_TOUCH_ENTRIES],
		      "touch_accepted + touch_rejected > touch_entries");
	ok &= stat_le(a[STAT_TOUCH_PAGES_ACCEPTED], b[STAT_TOUCH_PAGES],
		      "touch_pages_accepted > touch_pages");
	ok &= stat_le(a[STAT_TOUCH_UNSUPPORTED], b[STAT_TOUCH_REQUESTS],
		      "touch_unsupported > touch_requests");
	ok &= stat_le(a[STAT_RESP_OK] + a[STAT_RESP_REJECTED] +
		      a[STAT_RESP_UNSUPPORTED] + a[STAT_RESP_MALFORMED],
		      b[STAT_PROBE_REQUESTS] + b[STAT_REPORT_REQUESTS] +
		      b[STAT_TOUCH_REQUESTS],
		      "responses > requests");
	EXPECT_TRUE(ok);

	if (!first_touch || !active)
		return;
	/* One event or drop per page of the child's, at least. */
	EXPECT_LE(COUNTER_PAGES,
		  b[STAT_TOUCH_EVENTS] + b[STAT_TOUCH_DROPPED] -
		  a[STAT_TOUCH_EVENTS] - a[STAT_TOUCH_DROPPED]);
	/* Sent and accepted: half of them at least, whatever was dropped. */
	EXPECT_LT(a[STAT_TOUCH_REQUESTS], b[STAT_TOUCH_REQUESTS]);
	EXPECT_LE(COUNTER_PAGES / 2, b[STAT_TOUCH_PAGES] - a[STAT_TOUCH_PAGES]);
	EXPECT_LE(COUNTER_PAGES / 2,
		  b[STAT_TOUCH_PAGES_ACCEPTED] - a[STAT_TOUCH_PAGES_ACCEPTED]);
	EXPECT_EQ(a[STAT_TOUCH_REJECTED], b[STAT_TOUCH_REJECTED]);
	EXPECT_EQ(a[STAT_TOUCH_UNSUPPORTED], b[STAT_TOUCH_UNSUPPORTED]);
}

/* The debugfs probe file exists exactly when locality_probe is negotiated. */
TEST_F(driver, probe_file_matches_feature)
{
	bool exists;

	if (!has_debugfs)
		SKIP(return, "debugfs not mounted on %s", DEBUGFS_MOUNT);
	exists = !access(probe_path, F_OK);
	ksft_print_msg("%s %s, locality_probe %snegotiated\n", probe_path,
		       exists ? "exists" : "is absent", has_probe ? "" : "not ");
	EXPECT_EQ(has_probe, exists);
}

/* probe cpu 0 answers one parsable node line and counts one request. */
TEST_F(driver, probe_cpu0)
{
	const unsigned long long cpu0 = 0;

	if (probe_unusable())
		SKIP(return, "%s", probe_unusable());
	EXPECT_TRUE(probe_and_check("cpu 0", "cpu", &cpu0, 1));
	EXPECT_ANSWERS_WELL_FORMED();
}

/* A probe of the physical address of an own page answers its node. */
TEST_F(driver, probe_own_page)
{
	long psize = sysconf(_SC_PAGESIZE);
	unsigned long long phys[2];
	char cmd[64];
	void *mem;

	if (probe_unusable())
		SKIP(return, "%s", probe_unusable());
	mem = own_pages(phys);
	if (!mem)
		SKIP(return, "no physical address for own page");
	snprintf(cmd, sizeof(cmd), "page %#llx", phys[0]);
	EXPECT_TRUE(probe_and_check(cmd, "page", phys, 1));
	EXPECT_ANSWERS_WELL_FORMED();
	munmap(mem, 2 * psize);
}

/* A probe of two pages in one write answers one line per entry in order. */
TEST_F(driver, probe_two_entries)
{
	long psize = sysconf(_SC_PAGESIZE);
	unsigned long long phys[2], max_entries;
	char cmd[128];
	void *mem;

	if (probe_unusable())
		SKIP(return, "%s", probe_unusable());
	if (numahint_read_attr("max_probe_entries", &max_entries) ||
	    max_entries < 2)
		SKIP(return, "device takes fewer than 2 entries");
	mem = own_pages(phys);
	if (!mem)
		SKIP(return, "no physical address for own pages");
	/* The second in decimal: the driver takes C notation. */
	snprintf(cmd, sizeof(cmd), "page %#llx %llu\n", phys[0], phys[1]);
	EXPECT_TRUE(probe_and_check(cmd, "page", phys, 2));
	EXPECT_ANSWERS_WELL_FORMED();
	munmap(mem, 2 * psize);
}

/* The probe refuses bad kinds, cpus, values and counts without sending. */
TEST_F(driver, probe_refuses_bad_commands)
{
	unsigned long long before, after, max_entries, i;
	char *cmd;

	if (probe_unusable())
		SKIP(return, "%s", probe_unusable());
	ASSERT_EQ(0, numahint_read_attr("probe_requests", &before));
	ASSERT_EQ(0, numahint_read_attr("max_probe_entries", &max_entries));
	cmd = malloc(8 + 2 * (max_entries + 1));
	ASSERT_NE(NULL, cmd);
	strcpy(cmd, "cpu");
	for (i = 0; i <= max_entries; i++)
		strcat(cmd, " 0");

	EXPECT_TRUE(expect_refusal("node 0", EINVAL, "unknown kind"));
	EXPECT_TRUE(expect_refusal("cpu 1000000", EINVAL, "absent cpu"));
	EXPECT_TRUE(expect_refusal("page", EINVAL, "no values"));
	EXPECT_TRUE(expect_refusal("page 0x1000 zz", EINVAL, "not a number"));
	EXPECT_TRUE(expect_refusal(cmd, E2BIG, "max_probe_entries + 1 values"));
	free(cmd);

	ASSERT_EQ(0, numahint_read_attr("probe_requests", &after));
	EXPECT_EQ(before, after);
}

int main(int argc, char **argv)
{
	const char *why;

	if (!numahint_find_device(&why))
		ksft_print_msg("testing %s, bound at %s/%s\n", numahint_dev,
			       NUMAHINT_DRIVER_DIR, numahint_dev);
	return test_harness_run(argc, argv);
}
