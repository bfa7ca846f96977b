// SPDX-License-Identifier: GPL-2.0
/*
 * Flood both virtqueues as fast as the guest can, and account for every
 * event: on every vCPU a process maps, touches and unmaps memory in a
 * tight loop, one first-touch event per 4 KiB page (no THP), while
 * another allocates and frees a large buffer over and over so that free
 * page reporting runs all the time.  Meanwhile a probe sleeps for a short
 * period again and again and measures how late it wakes up: the guest
 * must stay responsive.
 *
 * Every allocation the driver's hook sees is either recorded or dropped
 * (touch_events + touch_dropped).  An ftrace histogram on the same
 * tracepoint, filtered as the driver's default touch_filter=user_movable
 * filters, counts the allocations independently; the two must agree
 * exactly.  The flood's own pages are a lower bound of both.
 *
 * For the host's side of the accounting, with -s the program stops once
 * the flood is over and the driver idle, prints its counters, and waits
 * for the host to change touch_flush_ms (qom-set): the host reads the
 * device's counters before it does, while nothing in the guest moves, so
 * that they can be compared exactly with the guest's.
 *
 *   numahint_flood [-t SECONDS] [-j WORKERS] [-c BYTES] [-l MS] [-s]
 *     -t  length of the flood (default 20)
 *     -j  touching processes (default: one per online CPU)
 *     -c  size of the buffer allocated and freed in a loop (default 64M)
 *     -l  bound on the probe's 99th percentile wake-up delay (default 100)
 *     -s  wait for the host to sample the device at the end
 *
 * Lines for the host start with "# numahint-flood: ".
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "numahint_sysfs.h"

#define NR_TESTS	6

/* What one touching process maps, touches and unmaps per round. */
#define ROUND_BYTES	(1024 * 1024)
#define PAGE_BYTES	4096
/* Pause of the churning process between its cycles. */
#define CHURN_PAUSE_S	0.2
/* Period of the responsiveness probe. */
#define PROBE_PERIOD_MS	10
/* Probe sampling before the flood, for comparison. */
#define IDLE_S		2.0
/* Time for the last extents to reach the device, beyond touch_flush_ms. */
#define SETTLE_S	1.0
/* How long the host may take to sample the device (-s). */
#define HOST_WAIT_S	60.0

#define TRACEFS		"/sys/kernel/tracing"
#define ALLOC_EVENT	TRACEFS "/events/kmem/mm_page_alloc"
/*
 * The driver's default filter, user_movable: __GFP_HARDWALL (bit 20) and
 * __GFP_MOVABLE (bit 3) from MIGRATE_MOVABLE (1), and the allocation
 * succeeded (the event's pfn is -1 when it failed).  These values are the
 * same in every kernel since 4.14, 6.12 included.
 */
#define USER_MOVABLE_FILTER \
	"gfp_flags & 0x8 && gfp_flags & 0x100000 && migratetype == 1 && " \
	"pfn != 0xffffffffffffffff"
#define HIST_TRIGGER	"hist:keys=migratetype if " USER_MOVABLE_FILTER

/* A snapshot: the driver's counters, and the histogram around them. */
struct snapshot {
	unsigned long long val[NR_STATS];
	/* Histogram hits read just before and just after the counters. */
	unsigned long long hist_before;
	unsigned long long hist_after;
};

/* What each flooding process did, in memory shared with the parent. */
struct worker_result {
	/* 4 KiB pages written for the first time. */
	unsigned long long pages;
	/* Rounds (touching) or cycles (churning) completed. */
	unsigned long long rounds;
	/* The process ran to its deadline without an error. */
	int ok;
};

/* Wake-up delays of the probe, in microseconds. */
struct probe {
	double *delay_us;
	size_t nr;
	size_t size;
};

static bool have_hist;

static int write_file(const char *path, const char *text)
{
	ssize_t len = strlen(text);
	int fd, err = 0;

	fd = open(path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != len)
		err = -errno;
	close(fd);
	return err;
}

/* Count the user movable allocations with a histogram trigger. */
static const char *start_hist(void)
{
	static char why[160];
	int err;

	if (mount("tracefs", TRACEFS, "tracefs", 0, NULL) && errno != EBUSY) {
		snprintf(why, sizeof(why), "cannot mount tracefs: %s",
			 strerror(errno));
		return why;
	}
	err = write_file(ALLOC_EVENT "/trigger", HIST_TRIGGER);
	if (err) {
		snprintf(why, sizeof(why), "cannot set a hist trigger on mm_page_alloc: %s",
			 strerror(-err));
		return why;
	}
	have_hist = true;
	return NULL;
}

static void stop_hist(void)
{
	if (have_hist)
		write_file(ALLOC_EVENT "/trigger", "!" HIST_TRIGGER);
}

/* The histogram's hits: the sum of its entries' hitcounts. */
static int read_hist(unsigned long long *hits)
{
	static char buf[16384];
	char *p;
	int err;

	err = numahint_read_file(ALLOC_EVENT "/hist", buf, sizeof(buf));
	if (err) {
		ksft_print_msg("cannot read %s/hist: %s\n", ALLOC_EVENT,
			       strerror(-err));
		return -1;
	}
	*hits = 0;
	for (p = buf; (p = strstr(p, "hitcount:")); p++)
		*hits += strtoull(p + strlen("hitcount:"), NULL, 10);
	return 0;
}

static int take_snapshot(struct snapshot *s)
{
	if (have_hist && read_hist(&s->hist_before))
		return -1;
	if (numahint_read_stats(s->val))
		return -1;
	if (have_hist && read_hist(&s->hist_after))
		return -1;
	return 0;
}

static void print_snapshot(const char *label, const struct snapshot *s)
{
	char line[1024];
	size_t len = 0;
	int i;

	for (i = 0; i < NR_STATS; i++)
		len += snprintf(line + len, sizeof(line) - len, " %s=%llu",
				numahint_stat_name(i), s->val[i]);
	ksft_print_msg("numahint-flood: %s%s\n", label, line);
}

/* Map, touch and unmap ROUND_BYTES until @deadline. */
static void touch_worker(struct worker_result *r, double deadline)
{
	size_t off;
	char *mem;

	while (numahint_now() < deadline) {
		mem = mmap(NULL, ROUND_BYTES, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			ksft_print_msg("mmap: %s\n", strerror(errno));
			return;
		}
		/* One allocation per page: no THP. */
		if (madvise(mem, ROUND_BYTES, MADV_NOHUGEPAGE) && errno != EINVAL)
			ksft_print_msg("madvise: %s (going on)\n",
				       strerror(errno));
		for (off = 0; off < ROUND_BYTES; off += PAGE_BYTES)
			mem[off] = 1;
		munmap(mem, ROUND_BYTES);
		r->pages += ROUND_BYTES / PAGE_BYTES;
		r->rounds++;
	}
	r->ok = 1;
}

/* Allocate, touch and free @bytes until @deadline, for page reporting. */
static void churn_worker(struct worker_result *r, size_t bytes,
			 double deadline)
{
	size_t off;
	char *mem;

	while (numahint_now() < deadline) {
		mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED) {
			ksft_print_msg("mmap %zu MiB: %s\n", bytes >> 20,
				       strerror(errno));
			return;
		}
		for (off = 0; off < bytes; off += PAGE_BYTES)
			mem[off] = 1;
		munmap(mem, bytes);
		r->pages += bytes / PAGE_BYTES;
		r->rounds++;
		numahint_sleep(CHURN_PAUSE_S);
	}
	r->ok = 1;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Sleep PROBE_PERIOD_MS at a time until @until, recording how late each
 * wake-up is.  A wake-up later than a whole period starts the next one
 * from now, so that one stall counts once.
 */
static void run_probe(struct probe *p, double until)
{
	const long period_ns = PROBE_PERIOD_MS * 1000000L;
	struct timespec next, now;
	double late;

	p->nr = 0;
	clock_gettime(CLOCK_MONOTONIC, &next);
	while (numahint_now() < until && p->nr < p->size) {
		next.tv_nsec += period_ns;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000L;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		clock_gettime(CLOCK_MONOTONIC, &now);
		late = (now.tv_sec - next.tv_sec) * 1e6 +
		       (now.tv_nsec - next.tv_nsec) / 1e3;
		p->delay_us[p->nr++] = late;
		if (late > PROBE_PERIOD_MS * 1000.0)
			next = now;
	}
	qsort(p->delay_us, p->nr, sizeof(*p->delay_us), cmp_double);
}

/* The @pct percentile of the sorted delays, in milliseconds. */
static double percentile_ms(const struct probe *p, double pct)
{
	size_t i;

	if (!p->nr)
		return 0;
	i = (size_t)(pct / 100.0 * (p->nr - 1) + 0.5);
	return p->delay_us[i] / 1000.0;
}

static void print_probe(const char *label, const struct probe *p)
{
	ksft_print_msg("numahint-flood: probe %s wakeups=%zu p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
		       label, p->nr, percentile_ms(p, 50), percentile_ms(p, 99),
		       percentile_ms(p, 100));
}

/* Wait until touch_flush_ms differs from @was: the host has sampled. */
static bool wait_for_host(unsigned long long was)
{
	double deadline = numahint_now() + HOST_WAIT_S;
	unsigned long long now;

	ksft_print_msg("numahint-flood: sample now, then change touch_flush_ms from %llu\n",
		       was);
	while (numahint_now() < deadline) {
		if (numahint_read_attr("touch_flush_ms", &now))
			return false;
		if (now != was)
			return true;
		numahint_sleep(0.05);
	}
	ksft_print_msg("the host did not change touch_flush_ms in %.0f s\n",
		       HOST_WAIT_S);
	return false;
}

static void print_usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-t SECONDS] [-j WORKERS] [-c BYTES] [-l MS] [-s]\n",
		prog);
	exit(KSFT_FAIL);
}

int main(int argc, char **argv)
{
	unsigned long long churn = 64ULL << 20, touched = 0;
	unsigned long long flush_ms, active, recorded, seen_lo, seen_hi;
	int workers = sysconf(_SC_NPROCESSORS_ONLN), opt, i, status;
	double seconds = 20, latency_ms = 100, start, deadline;
	struct snapshot before, after, sampled;
	struct worker_result *results;
	struct probe idle, flood;
	bool sync_host = false, ok;
	const char *why;
	pid_t pid;

	while ((opt = getopt(argc, argv, "t:j:c:l:s")) != -1) {
		switch (opt) {
		case 't':
			seconds = atof(optarg);
			break;
		case 'j':
			workers = atoi(optarg);
			break;
		case 'c':
			churn = numahint_parse_size(optarg);
			break;
		case 'l':
			latency_ms = atof(optarg);
			break;
		case 's':
			sync_host = true;
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (seconds <= 0 || workers < 1 || churn < PAGE_BYTES ||
	    latency_ms <= 0)
		print_usage(argv[0]);

	ksft_print_header();
	if (numahint_find_device(&why))
		ksft_exit_skip("%s\n", why);
	if (!numahint_has_feature(VIRTIO_NUMAHINT_F_FIRST_TOUCH))
		ksft_exit_skip("first_touch not negotiated\n");
	if (numahint_read_attr("touch_active", &active) ||
	    numahint_read_attr("touch_flush_ms", &flush_ms))
		ksft_exit_fail_msg("cannot read the driver's sysfs files\n");
	if (active != 1)
		ksft_exit_skip("touch_active is 0: the mm_page_alloc hook is off\n");
	ksft_set_plan(NR_TESTS);

	results = mmap(NULL, sizeof(*results) * (workers + 1),
		       PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	idle.size = IDLE_S * 1000 / PROBE_PERIOD_MS + 16;
	flood.size = seconds * 1000 / PROBE_PERIOD_MS + 16;
	idle.delay_us = calloc(idle.size, sizeof(double));
	flood.delay_us = calloc(flood.size, sizeof(double));
	if (results == MAP_FAILED || !idle.delay_us || !flood.delay_us)
		ksft_exit_fail_msg("out of memory\n");
	/* Fault the probe's arrays in now, not while it measures. */
	memset(idle.delay_us, 0, idle.size * sizeof(double));
	memset(flood.delay_us, 0, flood.size * sizeof(double));
	memset(results, 0, sizeof(*results) * (workers + 1));

	why = start_hist();
	if (why)
		ksft_print_msg("no independent count of allocations: %s\n", why);

	run_probe(&idle, numahint_now() + IDLE_S);
	print_probe("idle", &idle);

	if (take_snapshot(&before))
		ksft_exit_fail_msg("cannot read the counters\n");
	ksft_print_msg("numahint-flood: start workers=%d churn_mib=%llu seconds=%.1f\n",
		       workers, churn >> 20, seconds);
	start = numahint_now();
	deadline = start + seconds;
	for (i = 0; i <= workers; i++) {
		pid = fork();
		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (!pid) {
			if (i < workers)
				touch_worker(&results[i], deadline);
			else
				churn_worker(&results[i], churn, deadline);
			_exit(0);
		}
	}
	run_probe(&flood, deadline);
	ok = true;
	while ((pid = wait(&status)) > 0)
		ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	ksft_print_msg("numahint-flood: end seconds=%.1f\n", numahint_now() - start);
	/* The churning process may get THP: one event for 512 pages. */
	for (i = 0; i <= workers; i++) {
		ok &= results[i].ok;
		touched += i < workers ? results[i].pages : 0;
	}
	print_probe("flood", &flood);

	/* Let the last extents go out, then nothing moves in the guest. */
	numahint_sleep(flush_ms / 1000.0 + SETTLE_S);
	if (take_snapshot(&after))
		ksft_exit_fail_msg("cannot read the counters\n");
	print_snapshot("counters", &after);

	recorded = after.val[STAT_TOUCH_EVENTS] + after.val[STAT_TOUCH_DROPPED] -
		   before.val[STAT_TOUCH_EVENTS] - before.val[STAT_TOUCH_DROPPED];
	ksft_print_msg("numahint-flood: pages_touched=%llu churn_cycles=%llu\n",
		       touched, results[workers].rounds);
	ksft_print_msg("numahint-flood: recorded=%llu dropped=%llu unsent=%llu\n",
		       after.val[STAT_TOUCH_EVENTS] - before.val[STAT_TOUCH_EVENTS],
		       after.val[STAT_TOUCH_DROPPED] - before.val[STAT_TOUCH_DROPPED],
		       after.val[STAT_TOUCH_UNSENT] - before.val[STAT_TOUCH_UNSENT]);
	ksft_test_result(ok && touched && recorded >= touched,
			 "every page the flood touched is a recorded or dropped event\n");

	if (have_hist) {
		/* The counters were read between the two histogram reads. */
		seen_lo = after.hist_before - before.hist_after;
		seen_hi = after.hist_after - before.hist_before;
		ksft_print_msg("numahint-flood: hist_low=%llu hist_high=%llu\n",
			       seen_lo, seen_hi);
		ksft_test_result(seen_lo <= recorded && recorded <= seen_hi,
				 "recorded + dropped = allocations the tracepoint saw\n");
	} else {
		ksft_test_result_skip("%s: no hist trigger\n",
				      "recorded + dropped = allocations the tracepoint saw");
	}

	ksft_print_msg("touch_rejected +%llu, touch_unsupported +%llu\n",
		       after.val[STAT_TOUCH_REJECTED] - before.val[STAT_TOUCH_REJECTED],
		       after.val[STAT_TOUCH_UNSUPPORTED] - before.val[STAT_TOUCH_UNSUPPORTED]);
	ksft_print_msg("resp_malformed +%llu, req_abandoned +%llu\n",
		       after.val[STAT_RESP_MALFORMED] - before.val[STAT_RESP_MALFORMED],
		       after.val[STAT_REQ_ABANDONED] - before.val[STAT_REQ_ABANDONED]);
	ksft_test_result(after.val[STAT_TOUCH_REQUESTS] > before.val[STAT_TOUCH_REQUESTS] &&
			 after.val[STAT_TOUCH_REJECTED] == before.val[STAT_TOUCH_REJECTED] &&
			 after.val[STAT_TOUCH_UNSUPPORTED] == before.val[STAT_TOUCH_UNSUPPORTED] &&
			 after.val[STAT_RESP_MALFORMED] == before.val[STAT_RESP_MALFORMED] &&
			 after.val[STAT_REQ_ABANDONED] == before.val[STAT_REQ_ABANDONED],
			 "the device answered every first-touch request and rejected no extent\n");

	ksft_print_msg("free page reports: %llu requests, %llu ranges, %llu MiB, %llu errors\n",
		       after.val[STAT_REPORT_REQUESTS] - before.val[STAT_REPORT_REQUESTS],
		       after.val[STAT_REPORT_RANGES] - before.val[STAT_REPORT_RANGES],
		       (after.val[STAT_REPORT_BYTES] - before.val[STAT_REPORT_BYTES]) >> 20,
		       after.val[STAT_REPORT_ERRORS] - before.val[STAT_REPORT_ERRORS]);
	ksft_test_result(after.val[STAT_REPORT_REQUESTS] > before.val[STAT_REPORT_REQUESTS] &&
			 after.val[STAT_REPORT_ERRORS] == before.val[STAT_REPORT_ERRORS] &&
			 after.val[STAT_REPORT_REJECTED] == before.val[STAT_REPORT_REJECTED],
			 "free page reports went on during the flood, none failed\n");

	ksft_print_msg("probe wake-up delay p99 %.2f ms (%.2f ms idle), bound %.0f ms\n",
		       percentile_ms(&flood, 99), percentile_ms(&idle, 99),
		       latency_ms);
	ksft_test_result(flood.nr > 0 && percentile_ms(&flood, 99) <= latency_ms,
			 "the guest stays responsive during the flood\n");

	if (!sync_host) {
		ksft_test_result_skip("the counters stood still while the host sampled: no -s\n");
		stop_hist();
		ksft_finished();
	}
	ok = wait_for_host(flush_ms);
	if (take_snapshot(&sampled))
		ksft_exit_fail_msg("cannot read the counters\n");
	print_snapshot("sampled", &sampled);
	/* The host's touch_flush_ms change that ends the wait is one. */
	for (i = 0; i < NR_STATS; i++)
		ok &= sampled.val[i] == after.val[i] ||
		      (i == STAT_CONFIG_CHANGES &&
		       sampled.val[i] == after.val[i] + 1);
	ksft_test_result(ok, "the counters stood still while the host sampled\n");
	stop_hist();
	ksft_finished();
}
