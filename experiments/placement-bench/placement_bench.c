// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * placement-bench: the placement engine against the kernel's own limit.
 *
 *   placement_bench [-m MIB] [-r ROUNDS] [-p 4k|thp|both] [-f node] [-t node]
 *
 * A benchmark, not a test: it prints numbers and judges nothing.  On a
 * host with at least two NUMA nodes, it maps MIB of anonymous memory
 * (default 256), backed by 4 KiB pages (MADV_NOHUGEPAGE) or transparent
 * huge pages (MADV_HUGEPAGE), puts all of it on node -f (default 1), and
 * then moves it to node -t (default 0) in two ways, ROUNDS times each
 * (default 5), alternating, the memory put back on -f in between:
 *
 *   raw:    one move_pages(2) loop over the host pages, 256 a call, as a
 *           process that knows exactly what to move would do;
 *   engine: the first-touch placement engine of the QEMU device
 *           (qemu-device/hw/virtio/numahint-placement.c) with its Linux
 *           ops, given one first-touch event per 4 KiB page as a guest
 *           would send them (coalesced by the engine), and run with no
 *           budget: what it costs to queue the events, decide each host
 *           page, query where it is and move it.
 *
 * It prints, per page size, the median 4 KiB pages per second of each and
 * the median of the rounds' ratios (engine / raw, each round's two runs
 * back to back, so that the machine's drift cancels), as a markdown
 * table and as CSV lines
 * ("csv,..."), so that results can be compared within one run: these
 * machines are noisy.  The device's queue handling and the guest's side
 * are not in it: this is the engine against the kernel.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#include "hw/virtio/numahint-placement.h"

#define PAGE		4096UL
#define THP		(2UL << 20)
#define BATCH		256
#define MAX_ROUNDS	64
/* Largest event the guest driver sends: a 4 MiB buddy block. */
#define EVENT_PAGES	1024

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static long sys_move_pages(unsigned long count, void **pages,
			   const int *nodes, int *status)
{
	return syscall(SYS_move_pages, 0, count, pages, nodes, status,
		       MPOL_MF_MOVE);
}

/* Move every host page of [mem, mem + size) to @node; pages moved. */
static unsigned long raw_move(char *mem, size_t size, size_t host_page,
			      int node)
{
	void *pages[BATCH];
	int nodes[BATCH], status[BATCH];
	unsigned long moved = 0, failed[64] = { 0 };
	size_t off = 0;

	while (off < size) {
		unsigned long n = 0;

		for (; n < BATCH && off < size; n++, off += host_page) {
			pages[n] = mem + off;
			nodes[n] = node;
		}
		if (sys_move_pages(n, pages, nodes, status) < 0) {
			perror("move_pages");
			exit(1);
		}
		for (unsigned long i = 0; i < n; i++) {
			moved += status[i] == node;
			if (status[i] != node && status[i] < 0)
				failed[-status[i] < 64 ? -status[i] : 0]++;
		}
	}
	for (int e = 0; e < 64; e++) {
		if (failed[e])
			fprintf(stderr, "placement-bench: %lu pages not moved "
				"to node %d: %s\n", failed[e], node,
				strerror(e));
	}
	return moved;
}

/* Whether the page at @addr can be moved to @node. */
static bool can_move(void *addr, int node)
{
	int status;

	return sys_move_pages(1, &addr, &node, &status) == 0 &&
	       status == node;
}

/* The node of the page at @addr, or a negative errno. */
static int node_of(void *addr)
{
	int status;

	if (syscall(SYS_move_pages, 0, 1UL, &addr, NULL, &status, 0) < 0)
		return -errno;
	return status;
}

/* Share of the host pages of [mem, mem + size) on @node. */
static double share_on(char *mem, size_t size, size_t host_page, int node)
{
	unsigned long on = 0, all = 0;

	for (size_t off = 0; off < size; off += host_page, all++)
		on += node_of(mem + off) == node;
	return all ? (double)on / all : 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* The engine over @mem, all of it named for vCPU 0 on node @to. */
static double engine_round(char *mem, size_t size, size_t host_page, int to,
			   NumahintPlacementStats *out)
{
	static NumahintPlacement p;
	static NumahintPlacementExtent queue[NUMAHINT_PLACEMENT_STORAGE(8192)];
	const NumahintVcpuNode vcpus[] = { { 0, to } };
	NumahintRamRegion ram = {
		.gpa = 1ULL << 32, .size = size, .hva = mem,
		.host_page_size = host_page,
	};
	uint64_t pages = size / PAGE;
	double start;

	numahint_placement_init(&p, &numahint_placement_linux_ops, NULL,
				queue, 8192);
	if (numahint_placement_set_ram(&p, &ram, 1) ||
	    numahint_placement_set_vcpus(&p, vcpus, 1)) {
		fprintf(stderr, "placement-bench: engine refused the maps\n");
		exit(1);
	}
	start = now();
	for (uint64_t page = 0; page < pages; page += EVENT_PAGES) {
		uint32_t n = pages - page < EVENT_PAGES ? pages - page :
			     EVENT_PAGES;

		numahint_placement_add(&p, ram.gpa + page * PAGE, n, 0);
	}
	numahint_placement_run(&p, UINT64_MAX);
	*out = p.stats;
	return now() - start;
}

static void bench(const char *label, size_t size, bool thp, int rounds,
		  int from, int to)
{
	size_t host_page = thp ? THP : PAGE;
	double raw_rate[MAX_ROUNDS], engine_rate[MAX_ROUNDS];
	double ratio[MAX_ROUNDS];
	NumahintPlacementStats st;
	char *map, *mem;
	double huge;

	map = mmap(NULL, size + THP, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	mem = (char *)(((uintptr_t)map + THP - 1) & ~(THP - 1));
	madvise(mem, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(mem, 1, size);
	raw_move(mem, size, host_page, from);
	huge = share_on(mem, size, PAGE, from);
	fprintf(stderr, "placement-bench: %s: %zu MiB on node %d (%.1f%% of "
		"4 KiB pages)\n", label, size >> 20, from, 100 * huge);

	for (int r = 0; r < rounds; r++) {
		double t;
		unsigned long moved;

		t = now();
		moved = raw_move(mem, size, host_page, to);
		t = now() - t;
		raw_rate[r] = moved * (host_page / PAGE) / t;
		raw_move(mem, size, host_page, from);

		t = engine_round(mem, size, host_page, to, &st);
		engine_rate[r] = st.pages_migrated / t;
		ratio[r] = engine_rate[r] / raw_rate[r];
		fprintf(stderr, "placement-bench: %s round %d: raw %.0f pages/s "
			"(%lu host pages), engine %.0f pages/s (%" PRIu64
			" pages migrated, %" PRIu64 " local, %" PRIu64
			" failed, %" PRIu64 " + %" PRIu64 " calls), %.1f%% on "
			"node %d\n", label, r + 1, raw_rate[r], moved,
			engine_rate[r], st.pages_migrated, st.pages_local,
			st.pages_failed_busy + st.pages_failed_nomem +
			st.pages_failed_fault + st.pages_failed_other,
			st.query_calls, st.move_calls,
			100 * share_on(mem, size, host_page, to), to);
		raw_move(mem, size, host_page, from);
	}
	{
		double raw = median(raw_rate, rounds);
		double engine = median(engine_rate, rounds);
		/* Each round's pair ran back to back: drift cancels. */
		double paired = median(ratio, rounds);

		printf("| %s | %zu | %d | %.0f | %.0f | %.2f |\n", label,
		       size >> 20, rounds, raw, engine, paired);
		printf("csv,%s,%zu,%d,%.0f,%.0f,%.3f\n", label, size >> 20,
		       rounds, raw, engine, paired);
	}
	munmap(map, size + THP);
}

int main(int argc, char **argv)
{
	size_t mib = 256;
	int rounds = 5, from = 1, to = 0, opt;
	const char *which = "both";
	char *probe;

	while ((opt = getopt(argc, argv, "m:r:p:f:t:")) != -1) {
		switch (opt) {
		case 'm':
			mib = strtoul(optarg, NULL, 0);
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'p':
			which = optarg;
			break;
		case 'f':
			from = atoi(optarg);
			break;
		case 't':
			to = atoi(optarg);
			break;
		default:
			fprintf(stderr, "usage: %s [-m MIB] [-r ROUNDS] "
				"[-p 4k|thp|both] [-f NODE] [-t NODE]\n",
				argv[0]);
			return 2;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || !mib) {
		fprintf(stderr, "placement-bench: 1 to %d rounds, at least "
			"1 MiB\n", MAX_ROUNDS);
		return 2;
	}
	/* Both nodes must exist: a page must move to each. */
	probe = mmap(NULL, PAGE, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (probe == MAP_FAILED)
		return 1;
	probe[0] = 1;
	if (!can_move((void *)probe, from) || !can_move((void *)probe, to)) {
		fprintf(stderr, "placement-bench: cannot move a page to nodes "
			"%d and %d: this host needs two NUMA nodes\n", from, to);
		return 77;
	}
	printf("| Host pages | MiB | Rounds | raw move_pages (4 KiB pages/s) "
	       "| engine (4 KiB pages/s) | engine / raw (median of rounds) |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
	if (strcmp(which, "thp"))
		bench("4k", mib << 20, false, rounds, from, to);
	if (strcmp(which, "4k"))
		bench("thp", mib << 20, true, rounds, from, to);
	return 0;
}
