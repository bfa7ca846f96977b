// SPDX-License-Identifier: GPL-2.0
/*
 * What the first-touch hook costs page faults: fault in every 4 KiB page
 * of an anonymous mapping, unmap it, and again, for a fixed time, with
 * the mm_page_alloc hook off and on in turn (debugfs touch_hook) in the
 * same boot, in the order off-on, on-off, off-on...  With -p N, N
 * processes do so in parallel, each on its own CPU (CPU i % online CPUs),
 * as will-it-scale's page_fault1 does with N tasks.  They run for the
 * whole benchmark; a phase's rate is their faults over its time, sampled
 * by the parent, which sleeps meanwhile.  Prints faults per second for each phase, each round's
 * ratio, the ratio of the means, active / inactive, and the median of the
 * per-round ratios, which resists the drift of a noisy host better.  A
 * benchmark, not a test: it does not judge the ratio, and it restores the
 * hook as it found it.  With -n, the null run, the hook stays off in both
 * phases: the ratios then show what the measurement itself scatters.
 *
 *   numahint_fault_bench [-m MiB per process] [-t seconds per phase]
 *                        [-r rounds] [-p processes] [-n]
 *
 * Runs as root in a guest with the module loaded and debugfs mounted.
 * The hook may be switched on without first_touch: it then records and
 * drops, which measures the probe itself, not the sending.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
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

/* One worker's faults so far, alone in its cache line. */
struct fault_count {
	unsigned long long faults;
	char pad[64 - sizeof(unsigned long long)];
};

/* The workers' counters, shared with the parent, and the workers. */
static struct fault_count *counts;
static pid_t workers[MAX_PROCS];
static int nr_workers;

/* Fault in @bytes page by page, unmap, repeat, counting every fault. */
static void fault_forever(size_t bytes, struct fault_count *count)
{
	size_t off;
	char *mem;

	for (;;) {
		mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (mem == MAP_FAILED)
			_exit(1);
		/* Order-0 faults: the most hook calls per byte. */
		madvise(mem, bytes, MADV_NOHUGEPAGE);
		for (off = 0; off < bytes; off += 4096) {
			mem[off] = 1;
			__atomic_store_n(&count->faults, count->faults + 1,
					 __ATOMIC_RELAXED);
		}
		munmap(mem, bytes);
	}
}

/*
 * Start @procs workers, worker i on CPU i % online CPUs, that fault for
 * as long as the benchmark runs, as will-it-scale's tasks do: the parent
 * samples their counters, so no phase has a start or an end in which
 * some of them are not running yet or any more.
 */
static void start_workers(int procs, size_t bytes)
{
	int i, cpus = sysconf(_SC_NPROCESSORS_ONLN);
	cpu_set_t set;
	pid_t pid;

	counts = mmap(NULL, procs * sizeof(*counts), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (counts == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	for (i = 0; i < procs; i++) {
		pid = fork();
		if (pid < 0)
			ksft_exit_fail_msg("fork: %s\n", strerror(errno));
		if (!pid) {
			CPU_ZERO(&set);
			CPU_SET(i % cpus, &set);
			sched_setaffinity(0, sizeof(set), &set);
			fault_forever(bytes, &counts[i]);
		}
		workers[nr_workers++] = pid;
	}
}

static void stop_workers(void)
{
	int i;

	for (i = 0; i < nr_workers; i++)
		kill(workers[i], SIGKILL);
	for (i = 0; i < nr_workers; i++)
		waitpid(workers[i], NULL, 0);
}

static unsigned long long total_faults(void)
{
	unsigned long long sum = 0;
	int i;

	for (i = 0; i < nr_workers; i++)
		sum += __atomic_load_n(&counts[i].faults, __ATOMIC_RELAXED);
	return sum;
}

/* The workers' faults per second together, over the next @seconds. */
static double faults_per_second(double seconds)
{
	unsigned long long before = total_faults();
	double start = numahint_now();

	numahint_sleep(seconds);
	return (total_faults() - before) / (numahint_now() - start);
}

int main(int argc, char **argv)
{
	double seconds = 2.0, rate[2], sum[2] = { 0, 0 };
	static double ratio[MAX_ROUNDS];
	unsigned long long ev0, ev1;
	int rounds = 3, mib = 64, procs = 1, opt, round, phase, on, was;
	bool null_run = false;
	const char *why;

	while ((opt = getopt(argc, argv, "m:t:r:p:n")) != -1) {
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
		case 'n':
			null_run = true;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-m MiB] [-t seconds] [-r rounds] [-p processes] [-n]\n",
				argv[0]);
			return 2;
		}
	}
	if (mib <= 0 || seconds <= 0 || rounds <= 0 || rounds > MAX_ROUNDS ||
	    procs <= 0 || procs > MAX_PROCS)
		ksft_exit_fail_msg("-m, -t, -r, -p: positive; -r <= %d, -p <= %d\n",
				   MAX_ROUNDS, MAX_PROCS);

	if (numahint_find_device(&why))
		ksft_exit_skip("%s\n", why);
	snprintf(hook_path, sizeof(hook_path), "%s/%s/touch_hook",
		 DEBUGFS_DIR, numahint_dev);
	was = get_hook();
	if (was < 0)
		ksft_exit_skip("cannot read %s\n", hook_path);

	printf("# fault bench: %d x %d MiB on %ld CPUs, %.1f s per phase, %d rounds, %s\n",
	       procs, mib, sysconf(_SC_NPROCESSORS_ONLN), seconds, rounds,
	       numahint_has_feature(VIRTIO_NUMAHINT_F_FIRST_TOUCH) ?
	       "first_touch negotiated" : "first_touch not negotiated (hook records and drops)");
	if (null_run)
		printf("# null run: the hook stays off in both phases\n");
	start_workers(procs, (size_t)mib << 20);
	/* Warm up: page tables, the allocator's per-CPU lists. */
	numahint_sleep(seconds / 2);

	for (round = 0; round < rounds; round++) {
		/*
		 * Inactive first in even rounds, active first in odd ones: a
		 * host that slows down or speeds up during a round favours
		 * neither phase over the whole run.
		 */
		for (phase = 0; phase <= 1; phase++) {
			on = phase ^ (round & 1);
			if (set_hook(on && !null_run)) {
				stop_workers();
				ksft_exit_fail_msg("cannot write %s: %s\n",
						   hook_path, strerror(errno));
			}
			if (numahint_read_attr("touch_events", &ev0))
				ev0 = 0;
			rate[on] = faults_per_second(seconds);
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
	stop_workers();
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
