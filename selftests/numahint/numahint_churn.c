// SPDX-License-Identifier: GPL-2.0
/*
 * An allocation-heavy background load for the lifecycle tests: one worker
 * per online CPU, pinned to it, maps anonymous memory, writes every 4 KiB
 * page, checks what it wrote and unmaps it again, as fast as it can, so
 * that mm_page_alloc fires on every vCPU all the time and the buddy
 * allocator keeps freeing blocks for page reporting.  Each worker also
 * keeps a block written once at its start and checks it when it stops:
 * whatever the driver goes through meanwhile (unbind, reload, suspend),
 * memory in use must keep its contents.
 *
 *   numahint_churn [-H] [-m MIB] [-k MIB] [-n NICE] [-r MIBPS]
 *                  [-c CYCLES | -t SECONDS]
 *
 * -m: memory mapped per cycle and worker (default 8 MiB), in base pages,
 * or with -H in transparent huge pages where the kernel can: freed, those
 * go back to the allocator as whole blocks that page reporting takes,
 * where base pages fall into the holes that other allocations left;
 * -k: memory each worker keeps (default 4 MiB); -n: the workers' nice
 * value (default 19: they take the CPU time the test driving them leaves,
 * and do not slow it down); -r: each worker writes at most MIBPS MiB a
 * second, 64 KiB at a time, as a task whose heap grows steadily (default:
 * as fast as it can); -c: each worker stops after CYCLES cycles;
 * -t: stop after SECONDS (default: run until SIGTERM or SIGINT).  Prints
 * one "# churn: ..." line at the end and exits 0 if every worker found
 * all its data, 1 if not.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE		4096UL
#define MAX_WORKERS	64

/* What one worker did, in memory shared with the parent. */
struct worker_stats {
	unsigned long long cycles;
	unsigned long long pages;
	unsigned long long mismatches;
};

/* Set by the parent, in memory shared with the workers: stop now. */
static int *stop;
/* madvise() advice for the mappings: MADV_NOHUGEPAGE or MADV_HUGEPAGE. */
static int thp_advice = MADV_NOHUGEPAGE;

/* -r: pages a worker writes at a time, and nanoseconds for them; 0: no limit. */
#define PACE_PAGES	16
static unsigned long long pace_ns;
/* When the worker may write its next PACE_PAGES, on CLOCK_MONOTONIC. */
static struct timespec pace_due;

/*
 * With -r, wait until the worker may write its next PACE_PAGES pages.  A
 * worker that fell more than a second behind (it did not get the CPU)
 * starts again from now rather than catching up in a burst.
 */
static void pace(void)
{
	struct timespec now;

	if (!pace_ns)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (now.tv_sec > pace_due.tv_sec + 1)
		pace_due = now;
	pace_due.tv_nsec += pace_ns;
	pace_due.tv_sec += pace_due.tv_nsec / 1000000000;
	pace_due.tv_nsec %= 1000000000;
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &pace_due,
			       NULL) == EINTR)
		;
}

static bool stopping(void)
{
	return __atomic_load_n(stop, __ATOMIC_RELAXED);
}

/* Wait for SIGTERM or SIGINT, blocked in the caller, or @seconds if not 0. */
static void wait_for_stop(const sigset_t *signals, long seconds)
{
	struct timespec timeout = { .tv_sec = seconds };
	int sig;

	do {
		if (seconds)
			sig = sigtimedwait(signals, NULL, &timeout);
		else
			sig = sigwaitinfo(signals, NULL);
	} while (sig < 0 && errno == EINTR);
}

/* The value page @index of a mapping gets in @cycle of @worker. */
static uint64_t pattern(unsigned int worker, unsigned long long cycle,
			unsigned long index)
{
	return ((uint64_t)worker << 56) ^ (cycle << 24) ^ index ^
	       0x5a5a5a5a5a5a5a5aULL;
}

/* Write the first and last word of every page of @mem, then check them. */
static unsigned long long fill_and_check(char *mem, size_t len,
					 unsigned int worker,
					 unsigned long long cycle)
{
	unsigned long long bad = 0;
	unsigned long i, pages = len / PAGE;

	for (i = 0; i < pages; i++) {
		uint64_t *page = (uint64_t *)(mem + i * PAGE);

		if (!(i % PACE_PAGES))
			pace();
		page[0] = pattern(worker, cycle, i);
		page[PAGE / sizeof(uint64_t) - 1] = ~pattern(worker, cycle, i);
	}
	for (i = 0; i < pages; i++) {
		uint64_t *page = (uint64_t *)(mem + i * PAGE);

		bad += page[0] != pattern(worker, cycle, i) ||
		       page[PAGE / sizeof(uint64_t) - 1] !=
		       ~pattern(worker, cycle, i);
	}
	return bad;
}

static unsigned long long check_kept(const char *mem, size_t len,
				     unsigned int worker)
{
	unsigned long long bad = 0;
	unsigned long i;

	for (i = 0; i < len / PAGE; i++) {
		const uint64_t *page = (const uint64_t *)(mem + i * PAGE);

		bad += page[0] != pattern(worker, ~0ULL, i) ||
		       page[PAGE / sizeof(uint64_t) - 1] !=
		       ~pattern(worker, ~0ULL, i);
	}
	return bad;
}

static void *map_pages(size_t len)
{
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (mem == MAP_FAILED)
		return NULL;
	/* Base pages: one allocation each, the most first-touch events. */
	madvise(mem, len, thp_advice);
	return mem;
}

static int worker_main(unsigned int worker, int cpu, int niceness,
		       size_t len, size_t keep_len, unsigned long long cycles,
		       struct worker_stats *st)
{
	cpu_set_t set;
	char *kept, *mem;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "# churn: worker %u: cannot pin to CPU %d: %s\n",
			worker, cpu, strerror(errno));
	if (setpriority(PRIO_PROCESS, 0, niceness))
		fprintf(stderr, "# churn: worker %u: cannot set nice %d: %s\n",
			worker, niceness, strerror(errno));

	kept = map_pages(keep_len);
	if (!kept)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &pace_due);
	fill_and_check(kept, keep_len, worker, ~0ULL);

	while (!stopping() && (!cycles || st->cycles < cycles)) {
		mem = map_pages(len);
		if (!mem)
			return 2;
		st->mismatches += fill_and_check(mem, len, worker, st->cycles);
		munmap(mem, len);
		st->pages += len / PAGE;
		st->cycles++;
	}
	st->mismatches += check_kept(kept, keep_len, worker);
	munmap(kept, keep_len);
	return 0;
}

static size_t parse_mib(const char *arg)
{
	char *end;
	unsigned long val;

	errno = 0;
	val = strtoul(arg, &end, 10);
	if (errno || *end || !val || val > (1UL << 20))
		return 0;
	return val << 20;
}

static void print_usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-H] [-m MIB] [-k MIB] [-n NICE] [-r MIBPS] [-c CYCLES | -t SECONDS]\n",
		prog);
	exit(1);
}

int main(int argc, char **argv)
{
	size_t len = 8UL << 20, keep_len = 4UL << 20;
	unsigned long long cycles = 0, pages = 0, bad = 0, max_cycles = 0;
	pid_t pids[MAX_WORKERS];
	struct worker_stats *stats;
	unsigned int i, workers = 0, failed = 0;
	struct timespec start, end;
	sigset_t signals;
	long seconds = 0, niceness = 19;
	double rate;
	cpu_set_t online;
	int cpu, opt, status;

	while ((opt = getopt(argc, argv, "Hm:k:n:r:c:t:")) != -1) {
		switch (opt) {
		case 'H':
			thp_advice = MADV_HUGEPAGE;
			break;
		case 'm':
			len = parse_mib(optarg);
			break;
		case 'k':
			keep_len = parse_mib(optarg);
			break;
		case 'n':
			niceness = strtol(optarg, NULL, 10);
			break;
		case 'r':
			rate = strtod(optarg, NULL);
			if (rate <= 0)
				print_usage(argv[0]);
			pace_ns = 1e9 * PACE_PAGES * PAGE / (rate * (1 << 20));
			break;
		case 'c':
			max_cycles = strtoull(optarg, NULL, 10);
			if (!max_cycles)
				print_usage(argv[0]);
			break;
		case 't':
			seconds = strtol(optarg, NULL, 10);
			break;
		default:
			print_usage(argv[0]);
		}
	}
	if (!len || !keep_len || seconds < 0 || niceness < -20 || niceness > 19)
		print_usage(argv[0]);

	/*
	 * The parent takes SIGTERM and SIGINT with sigwaitinfo() and tells
	 * the workers, which inherit the mask, through *stop.
	 */
	sigemptyset(&signals);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigprocmask(SIG_BLOCK, &signals, NULL);

	if (sched_getaffinity(0, sizeof(online), &online))
		return 1;
	stats = mmap(NULL, sizeof(*stats) * MAX_WORKERS + sizeof(*stop),
		     PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (stats == MAP_FAILED)
		return 1;
	stop = (int *)&stats[MAX_WORKERS];

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (cpu = 0; cpu < CPU_SETSIZE && workers < MAX_WORKERS; cpu++) {
		if (!CPU_ISSET(cpu, &online))
			continue;
		fflush(stdout);
		pids[workers] = fork();
		if (pids[workers] < 0) {
			perror("# churn: fork");
			failed++;
			break;
		}
		if (!pids[workers]) {
			_exit(worker_main(workers, cpu, niceness, len,
					  keep_len, max_cycles, &stats[workers]));
		}
		workers++;
	}

	/* With a number of cycles, the workers stop by themselves. */
	if (!failed && !max_cycles)
		wait_for_stop(&signals, seconds);
	if (!max_cycles)
		__atomic_store_n(stop, 1, __ATOMIC_RELAXED);
	for (i = 0; i < workers; i++) {
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
		cycles += stats[i].cycles;
		pages += stats[i].pages;
		bad += stats[i].mismatches;
	}
	clock_gettime(CLOCK_MONOTONIC, &end);

	printf("# churn: %u workers, %llu cycles, %llu MiB touched in %.1f s, ",
	       workers, cycles, pages * PAGE >> 20,
	       (end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
	printf("%llu pages mismatched, %u workers failed\n", bad, failed);
	return bad || failed || !workers ? 1 : 0;
}
