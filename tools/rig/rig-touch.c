// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-touch: an application of the rig's rerun scenario, run in the inner
 * guest (as root, for the frame numbers in /proc/self/pagemap).
 *
 *   rig-touch NAME MIB [--nohuge | --huge] [--rate MIBPS] [--fragment]
 *             [--threads N [--rotate R]] [--free-cpu CPU] [--save FILE]
 *             [--ready FILE] [--compare FILE] [--hold SEC] [--wait SEC]
 *
 * Maps MIB MiB of anonymous memory (--nohuge: in 4 KiB pages, with
 * MADV_NOHUGEPAGE; --huge: MADV_HUGEPAGE, so that the kernel compacts for
 * transparent huge pages when it must), writes every page (--rate: at
 * most MIBPS MiB a second, 64 KiB at a time, as a task that grows its
 * heap slowly), and reads the guest-physical frame of each page from
 * /proc/self/pagemap.  It prints "RIG-TOUCH NAME pages=N present=P cpu=C
 * seconds=S thp_kib=K" (K: its memory in transparent huge pages, from
 * /proc/self/smaps).
 *   --threads N     N threads, as an OpenMP code first-touches its data:
 *                   thread t pinned to CPU (t + R) % N (--rotate R,
 *                   default 0) writes its own MIB MiB chunk (N * MIB in
 *                   all, mapped 2 MiB aligned), all starting at once;
 *                   each prints
 *                   "RIG-THREAD NAME t=T cpu=C pages=N seconds=S", and
 *                   --hold prints each chunk's frames as its own list,
 *                   "RIG-GPA NAME.cpuC ..." (their union is all frames).
 * Then:
 *   --fragment      frees every other page (MADV_DONTNEED on the odd
 *                   ones) and keeps the rest: the free memory it leaves
 *                   never merges into blocks that page reporting takes;
 *                   --save then writes the frames it freed;
 *   --free-cpu CPU  moves to CPU before it frees (the freed pages go to
 *                   that CPU's per-CPU free lists), with --fragment or
 *                   at exit;
 *   --save FILE     writes the frames (binary uint64) to FILE;
 *   --ready FILE    creates FILE once the above is done (for a caller that
 *                   runs this in the background);
 *   --compare FILE  counts how many of its frames are in FILE (the frames a
 *                   previous run left behind) and prints
 *                   "RIG-REUSE NAME pages=N reused=R";
 *   --hold SEC      prints "RIG-MARK NAME touched", then its frames as
 *                   "RIG-GPA NAME PFN+COUNT ..." lines (hex, sorted,
 *                   run-length encoded), keeps its memory until SEC
 *                   seconds after the mark, prints
 *                   "RIG-MARK NAME held SEC", and keeps holding --wait SEC
 *                   more (default 600) so that the host can sample;
 *   --wait SEC      without --hold: keeps the memory SEC seconds (after
 *                   --ready), then exits.
 * The outer VM samples host placement when it sees the marks.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "rig-gpa.h"

/* The size of a transparent huge page on x86. */
#define HUGE_ALIGN ((uintptr_t)2 << 20)

static void die(const char *what)
{
	printf("RIG-ERROR rig-touch: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_s(double seconds)
{
	struct timespec ts = { (time_t)seconds,
			       (long)((seconds - (time_t)seconds) * 1e9) };

	if (seconds <= 0)
		return;
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* KiB of [mem, mem + len) in transparent huge pages (smaps), or -1. */
static long thp_kib(const char *mem, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long start, end;
	char line[256];
	long kib = -1;
	int ours = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			ours = start < (uintptr_t)mem + len &&
			       end > (uintptr_t)mem;
			continue;
		}
		if (ours && sscanf(line, "AnonHugePages: %ld kB", &start) == 1)
			kib = (kib < 0 ? 0 : kib) + (long)start;
	}
	fclose(f);
	return kib;
}

/* One writer: its chunk of the memory, and the CPU it runs on. */
struct toucher {
	char *mem;		/* first byte of its chunk */
	size_t first, pages;	/* its pages, by index in the whole mapping */
	int cpu;		/* pinned there; -1: stays where it is */
	double rate;		/* MiB/s, 0: as fast as it can */
	double seconds;		/* time it took */
	pthread_barrier_t *start;	/* all threads start at once, or NULL */
};

static void *touch(void *arg)
{
	struct toucher *w = arg;
	long page = sysconf(_SC_PAGESIZE);
	double t0;
	size_t i;

	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	if (w->start)
		pthread_barrier_wait(w->start);
	t0 = now();
	for (i = 0; i < w->pages; i++) {
		/* --rate: no faster than MIBPS, 64 KiB (16 pages) at a time. */
		if (w->rate > 0 && i % 16 == 0)
			sleep_s(t0 + (double)i * page / (w->rate * (1 << 20)) -
				now());
		memset(w->mem + i * page, 0x5a ^ (int)(w->first + i), page);
	}
	w->seconds = now() - t0;
	return NULL;
}

static uint64_t *read_frames(const char *path, size_t *count)
{
	FILE *f = fopen(path, "rb");
	uint64_t *frames;
	long size;

	if (!f)
		die(path);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	frames = malloc(size + 8);
	if (!frames)
		die("malloc");
	*count = fread(frames, 8, size / 8, f);
	fclose(f);
	return frames;
}

int main(int argc, char **argv)
{
	const char *name, *save = NULL, *compare = NULL, *ready = NULL;
	double hold = -1, wait = -1, rate = 0, t0, t1;
	int fragment = 0, nohuge = 0, huge = 0, free_cpu = -1;
	long page = sysconf(_SC_PAGESIZE);
	size_t pages, i, present = 0, nthreads = 1, rotate = 0, t;
	struct toucher *workers;
	pthread_barrier_t start;
	pthread_t *tids;
	uint64_t *frames, *raw = NULL;
	int nonzero = 0;
	char *mem;
	int fd;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 3) {
		fprintf(stderr, "usage: rig-touch NAME MIB [--nohuge | --huge] "
			"[--rate MIBPS] [--fragment] [--threads N [--rotate R]] "
			"[--free-cpu CPU] "
			"[--save FILE] [--ready FILE] [--compare FILE] "
			"[--hold SEC] [--wait SEC]\n");
		return 2;
	}
	name = argv[1];
	pages = strtoul(argv[2], NULL, 0) * (1UL << 20) / page;
	for (i = 3; i < (size_t)argc; i++) {
		if (!strcmp(argv[i], "--fragment")) {
			fragment = 1;
			continue;
		}
		if (!strcmp(argv[i], "--nohuge")) {
			nohuge = 1;
			continue;
		}
		if (!strcmp(argv[i], "--huge")) {
			huge = 1;
			continue;
		}
		if (i + 1 == (size_t)argc) {
			fprintf(stderr, "rig-touch: %s wants a value\n", argv[i]);
			return 2;
		}
		if (!strcmp(argv[i], "--save"))
			save = argv[i + 1];
		else if (!strcmp(argv[i], "--free-cpu"))
			free_cpu = atoi(argv[i + 1]);
		else if (!strcmp(argv[i], "--ready"))
			ready = argv[i + 1];
		else if (!strcmp(argv[i], "--compare"))
			compare = argv[i + 1];
		else if (!strcmp(argv[i], "--hold"))
			hold = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--wait"))
			wait = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--rate"))
			rate = atof(argv[i + 1]);
		else if (!strcmp(argv[i], "--threads"))
			nthreads = strtoul(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--rotate"))
			rotate = strtoul(argv[i + 1], NULL, 0);
		else {
			fprintf(stderr, "rig-touch: unknown option %s\n",
				argv[i]);
			return 2;
		}
		i++;
	}
	if (nohuge && huge) {
		fprintf(stderr, "rig-touch: --nohuge or --huge, not both\n");
		return 2;
	}
	if (nthreads < 1 || (nthreads > 1 && fragment)) {
		fprintf(stderr, "rig-touch: --threads wants N >= 1, and not "
			"--fragment\n");
		return 2;
	}
	pages *= nthreads;

	/*
	 * With threads, 2 MiB aligned, so that with MIB even each thread's
	 * chunk is whole transparent huge pages of the guest: a huge page
	 * across two chunks would go to whichever thread touched it first.
	 */
	mem = mmap(NULL, pages * page + (nthreads > 1 ? HUGE_ALIGN : 0),
		   PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		die("mmap");
	if (nthreads > 1)
		mem = (char *)(((uintptr_t)mem + HUGE_ALIGN - 1) &
			       ~(HUGE_ALIGN - 1));
	if (nohuge && madvise(mem, pages * page, MADV_NOHUGEPAGE))
		die("madvise(MADV_NOHUGEPAGE)");
	if (huge && madvise(mem, pages * page, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	workers = calloc(nthreads, sizeof(*workers));
	tids = calloc(nthreads, sizeof(*tids));
	if (!workers || !tids)
		die("calloc");
	for (t = 0; t < nthreads; t++) {
		workers[t].first = t * (pages / nthreads);
		workers[t].mem = mem + workers[t].first * page;
		workers[t].pages = pages / nthreads;
		workers[t].cpu = nthreads > 1 ? (int)((t + rotate) % nthreads)
					      : -1;
		workers[t].rate = rate;
		workers[t].start = nthreads > 1 ? &start : NULL;
	}
	t0 = now();
	if (nthreads == 1) {
		touch(&workers[0]);
	} else {
		pthread_barrier_init(&start, NULL, nthreads);
		for (t = 0; t < nthreads; t++) {
			errno = pthread_create(&tids[t], NULL, touch,
					       &workers[t]);
			if (errno)
				die("pthread_create");
		}
		for (t = 0; t < nthreads; t++)
			pthread_join(tids[t], NULL);
	}
	t1 = now();

	frames = calloc(pages, 8);
	fd = open("/proc/self/pagemap", O_RDONLY);
	if (!frames || fd < 0)
		die("/proc/self/pagemap");
	if (pread(fd, frames, pages * 8, (uintptr_t)mem / page * 8) !=
	    (ssize_t)(pages * 8))
		die("pread pagemap");
	close(fd);
	if (nthreads > 1) {
		/* Each chunk's frames, for its own list at --hold. */
		raw = malloc(pages * 8);
		if (!raw)
			die("malloc");
		memcpy(raw, frames, pages * 8);
	}
	for (i = 0; i < pages; i++) {
		if (!(frames[i] & RIG_PM_PRESENT))
			continue;
		if (frames[i] & RIG_PM_PFN_MASK)
			nonzero = 1;
		/* With --fragment, keep the frames of the pages it frees. */
		if (!fragment || i % 2)
			frames[present++] = frames[i] & RIG_PM_PFN_MASK;
	}
	printf("RIG-TOUCH %s pages=%zu present=%zu cpu=%d seconds=%.2f "
	       "thp_kib=%ld\n", name, pages, present, sched_getcpu(), t1 - t0,
	       thp_kib(mem, pages * page));
	for (t = 0; nthreads > 1 && t < nthreads; t++)
		printf("RIG-THREAD %s t=%zu cpu=%d pages=%zu seconds=%.2f\n",
		       name, t, workers[t].cpu, workers[t].pages,
		       workers[t].seconds);
	if (present && !nonzero)
		printf("RIG-ERROR rig-touch: pagemap shows no frame numbers "
		       "(not root?)\n");
	if (free_cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(free_cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set))
			die("sched_setaffinity");
	}
	if (fragment) {
		for (i = 1; i < pages; i += 2) {
			if (madvise(mem + i * page, page, MADV_DONTNEED))
				die("madvise");
		}
		printf("RIG-FRAGMENT %s freed=%zu kept=%zu cpu=%d\n", name,
		       present, pages - pages / 2, sched_getcpu());
	}

	if (save) {
		FILE *f = fopen(save, "wb");

		if (!f || fwrite(frames, 8, present, f) != present || fclose(f))
			die(save);
	}
	if (ready) {
		int rfd = open(ready, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		if (rfd < 0 || close(rfd))
			die(ready);
	}
	qsort(frames, present, 8, rig_cmp_u64);
	if (compare) {
		size_t n_old, reused = 0;
		uint64_t *old = read_frames(compare, &n_old);

		qsort(old, n_old, 8, rig_cmp_u64);
		for (i = 0; i < present; i++) {
			if (bsearch(&frames[i], old, n_old, 8, rig_cmp_u64))
				reused++;
		}
		printf("RIG-REUSE %s pages=%zu reused=%zu\n", name, present,
		       reused);
	}
	if (hold >= 0) {
		/* The first sample is taken at the mark: before the frames. */
		t0 = now();
		printf("RIG-MARK %s touched\n", name);
		if (nthreads == 1)
			rig_print_ranges(name, frames, present);
		for (t = 0; nthreads > 1 && t < nthreads; t++) {
			uint64_t *chunk = raw + workers[t].first;
			size_t n = 0;
			char part[64];

			for (i = 0; i < workers[t].pages; i++) {
				if (chunk[i] & RIG_PM_PRESENT)
					chunk[n++] = chunk[i] & RIG_PM_PFN_MASK;
			}
			qsort(chunk, n, 8, rig_cmp_u64);
			snprintf(part, sizeof(part), "%s.cpu%d", name,
				 workers[t].cpu);
			rig_print_ranges(part, chunk, n);
		}
		sleep_s(hold - (now() - t0));
		printf("RIG-MARK %s held %g\n", name, hold);
		if (wait < 0)
			wait = 600;
	}
	/* Keep the memory (and keep it resident) while sampled. */
	for (t0 = now(); now() - t0 < wait;) {
		sleep_s(1);
		mem[0]++;
	}
	return 0;
}
