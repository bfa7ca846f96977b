// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-run: one run of a workload in the rig's inner guest, measured.
 *
 *   rig-run [--name NAME] [--sample-after SEC [--ready]] -- COMMAND [ARG...]
 *
 * Runs COMMAND, waits for it and prints
 *   RIG-RUN-RESULT name=NAME exit=E signal=S wall=SEC minflt=N majflt=N
 *                  utime=SEC stime=SEC
 * (guest page faults and CPU time of COMMAND and its children, from
 * wait4()).  With --sample-after, it samples COMMAND's working set once
 * it is set up.  With --ready, COMMAND says when: rig-run runs it with
 * NH_READY=stop in its environment, and COMMAND (one of the workloads of
 * experiments/workloads) stops itself with SIGSTOP then; rig-run samples
 * and continues it (SIGCONT), and leaves the pause out of wall=.
 * Without --ready it guesses: once COMMAND has run at least SEC seconds,
 * its resident memory has grown to GROWN times what it was at first
 * sight and has then not changed for STABLE_S (it has set up its working
 * set and computes), a guess that a loaded host can fool (a descheduled
 * guest looks stable).  Either way it reads the guest frames behind
 * COMMAND's private writable mappings (its heap, data and anonymous
 * memory: the working set) from /proc/PID/pagemap and prints them as
 * RIG-GPA NAME lines (rig-gpa.h), "RIG-RUN-SAMPLE name=NAME at=SEC
 * pages=N" after them, so that the host can sample their placement; if
 * COMMAND ends first there is no sample.
 * Runs as root (frame numbers in pagemap).  Exit status: COMMAND's, or 1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rig-gpa.h"

#define PAGE 4096ULL
/* Resident memory unchanged this long: the working set is set up. */
#define STABLE_S 1.0
/* ... after growing this much: not the stable start of a slow exec. */
#define GROWN 4
/* How often to look. */
#define POLL_NS (50 * 1000 * 1000)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @pid's resident pages, or -1. */
static long resident(pid_t pid)
{
	char path[64];
	long size, rss;
	FILE *f;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fscanf(f, "%ld %ld", &size, &rss);
	fclose(f);
	return n == 2 ? rss : -1;
}

static double tv_s(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

/* The frames behind @pid's private writable mappings, sorted. */
static uint64_t *working_set(pid_t pid, size_t *count)
{
	char path[64], line[512];
	uint64_t *frames = NULL, *buf;
	size_t n = 0, cap = 0;
	FILE *maps;
	int pm;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%d/pagemap", (int)pid);
	pm = open(path, O_RDONLY);
	if (!maps || pm < 0) {
		if (maps)
			fclose(maps);
		if (pm >= 0)
			close(pm);
		return NULL;
	}
	while (fgets(line, sizeof(line), maps)) {
		unsigned long long start, end, va;
		char perms[8];

		if (sscanf(line, "%llx-%llx %7s", &start, &end, perms) != 3 ||
		    perms[1] != 'w' || perms[3] != 'p' || strstr(line, "[v"))
			continue;
		for (va = start; va < end; va += 512 * PAGE) {
			size_t pages = (end - va) / PAGE, i, base;
			ssize_t got;

			if (pages > 512)
				pages = 512;
			if (n + pages > cap) {
				cap = 2 * (n + pages);
				buf = realloc(frames, cap * sizeof(*frames));
				if (!buf) {
					free(frames);
					fclose(maps);
					close(pm);
					return NULL;
				}
				frames = buf;
			}
			got = pread(pm, frames + n, pages * 8, va / PAGE * 8);
			if (got <= 0)
				break;
			/* Keep the present ones, packed from frames[n] on. */
			for (i = 0, base = n; i < (size_t)got / 8; i++) {
				uint64_t e = frames[base + i];

				if (e & RIG_PM_PRESENT)
					frames[n++] = e & RIG_PM_PFN_MASK;
			}
		}
	}
	fclose(maps);
	close(pm);
	if (frames)
		qsort(frames, n, sizeof(*frames), rig_cmp_u64);
	*count = n;
	return frames;
}

/* Print @pid's working set for the host, as RIG-GPA lines. */
static void sample(const char *name, pid_t pid, double at)
{
	size_t n = 0;
	uint64_t *frames = working_set(pid, &n);

	if (!frames)
		return;
	rig_print_ranges(name, frames, n);
	printf("RIG-RUN-SAMPLE name=%s at=%.2f pages=%zu\n", name, at, n);
	free(frames);
}

int main(int argc, char **argv)
{
	const char *name = "run";
	double sample_after = -1, start, changed, stopped, paused = 0;
	long rss = -1, first_rss = -1, now_rss;
	int status, i, sampled = 0, ready = 0;
	struct rusage ru;
	pid_t pid, got;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--sample-after") && i + 1 < argc)
			sample_after = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ready"))
			ready = 1;
		else
			break;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") ||
	    (ready && sample_after < 0)) {
		fprintf(stderr, "usage: rig-run [--name NAME] "
			"[--sample-after SEC [--ready]] -- COMMAND [ARG...]\n");
		return 2;
	}

	start = changed = now();
	pid = fork();
	if (pid < 0) {
		perror("rig-run: fork");
		return 1;
	}
	if (!pid) {
		if (ready)
			setenv("NH_READY", "stop", 1);
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "rig-run: %s: %s\n", argv[i + 1],
			strerror(errno));
		_exit(127);
	}

	for (;;) {
		got = wait4(pid, &status, WUNTRACED |
			    (sampled || sample_after < 0 || ready ? 0 : WNOHANG),
			    &ru);
		if (got == pid && WIFSTOPPED(status)) {
			/* The workload's working set is set up (nh_ready()). */
			stopped = now();
			if (!sampled && sample_after >= 0) {
				sample(name, pid, stopped - paused - start);
				sampled = 1;
			}
			kill(pid, SIGCONT);
			paused += now() - stopped;
			continue;
		}
		if (got == pid)
			break;
		if (got < 0 && errno != EINTR) {
			perror("rig-run: wait4");
			return 1;
		}
		if (ready)
			continue;
		if (!sampled && sample_after >= 0) {
			now_rss = resident(pid);
			if (first_rss <= 0)
				first_rss = now_rss;
			if (now_rss != rss) {
				rss = now_rss;
				changed = now();
			}
		}
		if (!sampled && sample_after >= 0 && first_rss > 0 &&
		    rss >= GROWN * first_rss &&
		    now() - start >= sample_after &&
		    now() - changed >= STABLE_S) {
			sample(name, pid, now() - start);
			sampled = 1;
			continue;
		}
		if (!sampled && sample_after >= 0) {
			struct timespec ts = { 0, POLL_NS };

			nanosleep(&ts, NULL);
		}
	}
	printf("RIG-RUN-RESULT name=%s exit=%d signal=%d wall=%.3f minflt=%ld majflt=%ld utime=%.3f stime=%.3f\n",
	       name, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0,
	       now() - start - paused,
	       ru.ru_minflt, ru.ru_majflt, tv_s(ru.ru_utime),
	       tv_s(ru.ru_stime));
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
