// SPDX-License-Identifier: GPL-2.0
/*
 * What the first-touch hook costs page faults: fault in every 4 KiB page
 * of an anonymous mapping, unmap it, and again, for a fixed time, with
 * the mm_page_alloc hook off and on in turn (debugfs touch_hook) in the
 * same boot, in the order off-on, on-off, off-on...  With -p N, N
 * processes do so in parallel, each on its own CPU (CPU i % online CPUs),
 * as will-it-scale's page_fault1 does with N tasks; a phase's rate is the
 * sum of theirs.  Prints faults per second for each phase, each round's
 * ratio, the ratio of the means, active / inactive, and the median of the
 * per-round ratios, which resists the drift of a noisy host better.  A
 * benchmark, not a test: it does not judge the ratio, and it restores the
 * hook as it found it.
 *
 *   numahint_fault_bench [-m MiB per process] [-t seconds per phase]
 *                        [-r rounds] [-p processes]
 *
 * Runs as root in a guest with the module loaded and debugfs mounted.
 * The hook may be switched on without first_touch: it then records and
 * drops, which measures the probe itself, not the sending.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mman.h>

#include "numahint_sysfs.h"

#define DEBUGFS_DIR	"/sys/kernel/debug/virtio_numahint"
#define MAX_ROUNDS	1000
#define MAX_PROCS	256

static char hook_path[PATH_MAX];

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int set_hook(int on)
{
	int fd, ret = 0;

	fd = open(hook_path, O_WRONLY);
	if (fd < 0)
		return -errno;
	if (write(fd, on ? "1\n" : "0\n", 2) != 2)
		ret = -errno;
	close(fd);
	return ret;
}

static int get_hook(void)
{
	char buf[16];

	if (numahint_read_file(hook_path, buf, sizeof(buf)))
		return -1;
	return atoi(buf);
}

/* Fault in @bytes page by page, unmap, repeat for @seconds. */
static double faults_per_second(size_t bytes, double seconds)
{
	unsigned long long faults = 0;
	double start = numahint_now(), took;
	size_t off;
	char *mem;

	do {
		mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
		/* Order-0 faults: the most hook calls per byte. */
		madvise(mem, bytes, MADV_NOHUGEPAGE);
		for (off = 0; off < bytes; off += 4096)
			mem[off] = 1;
		munmap(mem, bytes);
		faults += bytes / 4096;
		took = numahint_now() - start;
	} while (took < seconds);
	return faults / took;
}

/* What one process of a phase sends back. */
struct fault_result {
	/* Its faults per second, or a negative errno. */
	double rate;
};

/*
 * Run @procs processes that each fault in @bytes for @seconds, all at
 * once: they wait on a pipe that opens when the last one is ready.
 * Returns the sum of their rates.
 */
static double parallel_faults_per_second(int procs, size_t bytes,
					 double seconds)
{
	int start[2], done[2], i, status, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	struct fault_result res;
	double total = 0;
	cpu_set_t set;
	char go;

	if (pipe(start) || pipe(done))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	for (i = 0; i < procs; i++) {
		switch (fork()) {
		case -1:
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		case 0:
			close(start[1]);
			close(done[0]);
			CPU_ZERO(&set);
			CPU_SET(i % cpus, &set);
			sched_setaffinity(0, sizeof(set), &set);
			/* EOF once the parent has started every process. */
			if (read(start[0], &go, 1) < 0)
				_exit(1);
			res.rate = faults_per_second(bytes, seconds);
			/* Less than PIPE_BUF: one write, never interleaved. */
			_exit(write(done[1], &res, sizeof(res)) != sizeof(res));
		}
	}
	close(start[0]);
	close(done[1]);
	close(start[1]);
	for (i = 0; i < procs; i++) {
		if (read(done[0], &res, sizeof(res)) != sizeof(res))
			ksft_exit_fail_msg("a faulting process died\n");
		total += res.rate;
	}
	close(done[0]);
	for (i = 0; i < procs; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status))
			ksft_exit_fail_msg("a faulting process failed\n");
	return total;
}

int main(int argc, char **argv)
{
	double seconds = 2.0, rate[2], sum[2] = { 0, 0 };
	static double ratio[MAX_ROUNDS];
	unsigned long long ev0, ev1;
	int rounds = 3, mib = 64, procs = 1, opt, round, phase, on, was;
	const char *why;

	while ((opt = getopt(argc, argv, "m:t:r:p:")) != -1) {
		switch (opt) {
		case 'm':
			mib = atoi(optarg);
			break;
		case 't':
			seconds = atof(optarg);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'p':
			procs = atoi(optarg);
			break;
		default:
			fprintf(stderr,
				"usage: %s [-m MiB] [-t seconds] [-r rounds] [-p processes]\n",
				argv[0]);
			return 2;
		}
	}
	if (mib <= 0 || seconds <= 0 || rounds <= 0 || rounds > MAX_ROUNDS ||
	    procs <= 0 || procs > MAX_PROCS)
		ksft_exit_fail_msg("-m, -t, -r and -p must be positive, -r at most %d, -p at most %d\n",
				   MAX_ROUNDS, MAX_PROCS);

	if (numahint_find_device(&why))
		ksft_exit_skip("%s\n", why);
	snprintf(hook_path, sizeof(hook_path), "%s/%s/touch_hook",
		 DEBUGFS_DIR, numahint_dev);
	was = get_hook();
	if (was < 0)
		ksft_exit_skip("cannot read %s\n", hook_path);

	printf("# fault bench: %d process(es) of %d MiB on %ld CPUs, %.1f s per phase, %d rounds, %s\n",
	       procs, mib, sysconf(_SC_NPROCESSORS_ONLN), seconds, rounds,
	       numahint_has_feature(VIRTIO_NUMAHINT_F_FIRST_TOUCH) ?
	       "first_touch negotiated" : "first_touch not negotiated (hook records and drops)");
	/* Warm up: page tables, the allocator's per-CPU lists. */
	parallel_faults_per_second(procs, (size_t)mib << 20, seconds / 2);

	for (round = 0; round < rounds; round++) {
		/*
		 * Inactive first in even rounds, active first in odd ones: a
		 * host that slows down or speeds up during a round favours
		 * neither phase over the whole run.
		 */
		for (phase = 0; phase <= 1; phase++) {
			on = phase ^ (round & 1);
			if (set_hook(on))
				ksft_exit_fail_msg("cannot write %s: %s\n",
						   hook_path, strerror(errno));
			if (numahint_read_attr("touch_events", &ev0))
				ev0 = 0;
			rate[on] = parallel_faults_per_second(procs,
							      (size_t)mib << 20,
							      seconds);
			if (numahint_read_attr("touch_events", &ev1))
				ev1 = 0;
			sum[on] += rate[on];
			printf("# round %d hook %-8s %12.0f faults/s  touch_events +%llu\n",
			       round, on ? "active" : "inactive", rate[on],
			       ev1 - ev0);
		}
		ratio[round] = rate[1] / rate[0];
		printf("# round %d ratio %.4f\n", round, ratio[round]);
	}
	set_hook(was);

	printf("# mean inactive %.0f faults/s, active %.0f faults/s\n",
	       sum[0] / rounds, sum[1] / rounds);
	printf("# ratio active/inactive %.4f\n", sum[1] / sum[0]);
	qsort(ratio, rounds, sizeof(ratio[0]), cmp_double);
	printf("# median per-round ratio active/inactive %.4f\n",
	       rounds % 2 ? ratio[rounds / 2] :
	       (ratio[rounds / 2 - 1] + ratio[rounds / 2]) / 2);
	return 0;
}
