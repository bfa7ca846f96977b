// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-run: one run of a workload in the rig's inner guest, measured.
 *
 *   rig-run [--name NAME] [--sample-after SEC] [--ready]
 *           [--exit-hold SEC] -- COMMAND [ARG...]
 *
 * Runs COMMAND under ptrace (PTRACE_O_TRACEEXIT), waits for it and prints
 *   RIG-RUN-RESULT name=NAME exit=E signal=S wall=SEC minflt=N majflt=N
 *                  utime=SEC stime=SEC samples=K
 * (guest page faults and CPU time of COMMAND and its children, from
 * wait4()).  With --sample-after SEC it samples COMMAND's working set,
 * the guest frames behind its private writable mappings (heap, data,
 * anonymous memory) read from /proc/PID/pagemap:
 *   - kind=periodic: at SEC, 2 SEC, 4 SEC, 8 SEC... of the run, while it
 *     runs (locality over the run's time, in a bounded number of samples);
 *   - kind=ready: with --ready, COMMAND says when its data is set up:
 *     rig-run runs it with NH_READY=stop in its environment, and COMMAND
 *     (one of the workloads of experiments/workloads) stops itself with
 *     SIGSTOP then; rig-run samples it and continues it;
 *   - kind=exit: when COMMAND's main thread exits (the ptrace exit stop,
 *     before the kernel takes its memory away), the whole working set it
 *     still holds; COMMAND stays stopped --exit-hold seconds (default 2)
 *     after the sample is printed, so that the host reads the placement
 *     of those pages before the guest frees (and a free page report may
 *     discard) them.
 * Each sample is printed as RIG-GPA NAME lines (rig-gpa.h), then
 *   RIG-RUN-SAMPLE name=NAME kind=K at=SEC pages=N faults=F
 * (F: COMMAND's page faults so far, all its threads, /proc/PID/stat), so
 * that the host can read their placement.  Pauses (ready, exit hold) are
 * left out of wall=.  Signals COMMAND gets are passed on to it, but for
 * stop signals, which would hang the run (SIGSTOP is --ready's).  A
 * process whose main thread is killed by another thread's exit (or by
 * SIGKILL) has no exit sample.
 * With --per-thread, the guest kernel's page allocations by COMMAND's
 * threads are traced (the kmem:mm_page_alloc event in tracefs, for
 * COMMAND's pid and the threads it creates), and the ready and exit
 * samples are followed by one sample per thread, of the frames of the
 * sample that thread allocated last (first touched):
 *   RIG-RUN-SAMPLE name=NAME kind=thread of=KIND tid=T cpu=C node=N
 *                  at=SEC pages=P faults=-1
 * (C: the vCPU it allocated most of them on; N: that vCPU's node, the
 * vCPUs split evenly between two nodes in order, as the rig pins them;
 * tid=0: frames no traced allocation names).
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
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rig-gpa.h"

#define PAGE 4096ULL
/* How often to look for the next periodic sample. */
#define POLL_NS (50 * 1000 * 1000)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* @pid's page faults so far (minflt + majflt of all its threads), or -1. */
static long faults(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long minflt, majflt;
	ssize_t got;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	got = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (got <= 0)
		return -1;
	buf[got] = 0;
	/* After "(comm)": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %lu %*u %lu",
			 &minflt, &majflt) != 2)
		return -1;
	return (long)(minflt + majflt);
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

#define TRACEFS "/sys/kernel/tracing"
/* Per-CPU trace buffer: ~50 bytes an allocation, 160k allocations. */
#define TRACE_KB "8192"
#define MAX_THREADS 1024

static int per_thread;

static int trace_write(const char *file, const char *value)
{
	char path[128];
	int fd, ok;

	snprintf(path, sizeof(path), TRACEFS "/%s", file);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	ok = write(fd, value, strlen(value)) == (ssize_t)strlen(value);
	close(fd);
	return ok ? 0 : -1;
}

/* Trace the page allocations of @pid and the threads it makes; 0 if on. */
static int trace_start(pid_t pid)
{
	char buf[32];

	if (access(TRACEFS "/trace", F_OK) &&
	    mount("tracefs", TRACEFS, "tracefs", 0, NULL))
		return -1;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	if (trace_write("tracing_on", "0") || trace_write("trace", "") ||
	    trace_write("buffer_size_kb", TRACE_KB) ||
	    trace_write("options/event-fork", "1") ||
	    trace_write("set_event_pid", buf) ||
	    trace_write("events/kmem/mm_page_alloc/enable", "1") ||
	    trace_write("tracing_on", "1"))
		return -1;
	return 0;
}

static void trace_stop(void)
{
	trace_write("tracing_on", "0");
	trace_write("events/kmem/mm_page_alloc/enable", "0");
	trace_write("set_event_pid", "");
	trace_write("trace", "");
}

static size_t find_frame(const uint64_t *sorted, size_t n, uint64_t pfn)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (sorted[mid] < pfn)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct thread_frames {
	int tid;
	long per_cpu[64];
};

/*
 * Print the @n frames of sample @kind (@frames, sorted) split by the
 * thread that allocated each last, from the trace so far.
 */
static void sample_threads(const char *name, const char *kind, double at,
			   const uint64_t *frames, size_t n)
{
	struct thread_frames *threads;
	int *owner, nthreads = 1, t, vcpus, per_node;
	uint64_t *mine;
	char line[512];
	size_t i, m;
	FILE *trace;

	trace = fopen(TRACEFS "/trace", "r");
	owner = calloc(n ? n : 1, sizeof(*owner));
	threads = calloc(MAX_THREADS, sizeof(*threads));
	mine = malloc((n ? n : 1) * sizeof(*mine));
	if (!trace || !owner || !threads || !mine) {
		printf("RIG-RUN-NOTE name=%s per-thread: cannot read the trace\n",
		       name);
		goto out;
	}
	/* threads[0]: frames no traced allocation names. */
	while (fgets(line, sizeof(line), trace)) {
		char *bracket = strchr(line, '['), *p;
		unsigned long long pfn;
		unsigned int order;
		int tid = -1, cpu = -1;
		size_t j;

		/* "   COMM-TID   [CPU] FLAGS  TIME: mm_page_alloc: ..." */
		if (line[0] == '#' || !strstr(line, " mm_page_alloc: ") ||
		    !bracket || sscanf(bracket, "[%d]", &cpu) != 1)
			continue;
		for (p = bracket; p > line && p[-1] == ' '; p--)
			;
		while (p > line && p[-1] >= '0' && p[-1] <= '9')
			p--;
		if (p == line || p[-1] != '-' || sscanf(p, "%d", &tid) != 1)
			continue;
		p = strstr(bracket, " pfn=0x");
		if (!p || sscanf(p, " pfn=0x%llx order=%u", &pfn, &order) != 2 ||
		    order > 20 || cpu < 0 || cpu >= 64)
			continue;
		for (t = 1; t < nthreads && threads[t].tid != tid; t++)
			;
		if (t == nthreads) {
			if (nthreads == MAX_THREADS)
				continue;
			threads[nthreads++].tid = tid;
		}
		for (j = find_frame(frames, n, pfn);
		     j < n && frames[j] < pfn + (1ULL << order); j++) {
			owner[j] = t;
			threads[t].per_cpu[cpu]++;
		}
	}
	vcpus = (int)sysconf(_SC_NPROCESSORS_CONF);
	per_node = vcpus / 2 > 0 ? vcpus / 2 : 1;
	for (t = 0; t < nthreads; t++) {
		int cpu = -1, c;

		for (i = m = 0; i < n; i++)
			if (owner[i] == t)
				mine[m++] = frames[i];
		if (!m)
			continue;
		for (c = 0; c < 64; c++)
			if (threads[t].per_cpu[c] &&
			    (cpu < 0 || threads[t].per_cpu[c] >
			     threads[t].per_cpu[cpu]))
				cpu = c;
		rig_print_ranges(name, mine, m);
		printf("RIG-RUN-SAMPLE name=%s kind=thread of=%s tid=%d cpu=%d node=%d at=%.2f pages=%zu faults=-1\n",
		       name, kind, threads[t].tid, cpu,
		       cpu < 0 ? -1 : (cpu / per_node > 1 ? 1 : cpu / per_node),
		       at, m);
	}
out:
	if (trace)
		fclose(trace);
	free(owner);
	free(threads);
	free(mine);
}

/* Print @pid's working set for the host, as RIG-GPA lines; 1 if done. */
static int sample(const char *name, pid_t pid, const char *kind, double at)
{
	long so_far = faults(pid);
	size_t n = SIZE_MAX;
	uint64_t *frames = working_set(pid, &n);

	/* Only a working set that could not be read leaves n alone. */
	if (n == SIZE_MAX)
		return 0;
	rig_print_ranges(name, frames, n);
	printf("RIG-RUN-SAMPLE name=%s kind=%s at=%.2f pages=%zu faults=%ld\n",
	       name, kind, at, n, so_far);
	if (per_thread && strcmp(kind, "periodic"))
		sample_threads(name, kind, at, frames, n);
	free(frames);
	return 1;
}

static void sleep_s(double s)
{
	struct timespec ts = { (time_t)s, (long)((s - (time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	double sample_after = -1, exit_hold = 2, start, stopped, paused = 0;
	double next_sample;
	const char *name = "run";
	int status, i, ready = 0, ready_seen = 0, samples = 0, sig;
	int traced = 0;
	struct rusage ru;
	pid_t pid, got;

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "--name") && i + 1 < argc)
			name = argv[++i];
		else if (!strcmp(argv[i], "--sample-after") && i + 1 < argc)
			sample_after = atof(argv[++i]);
		else if (!strcmp(argv[i], "--exit-hold") && i + 1 < argc)
			exit_hold = atof(argv[++i]);
		else if (!strcmp(argv[i], "--ready"))
			ready = 1;
		else if (!strcmp(argv[i], "--per-thread"))
			per_thread = 1;
		else
			break;
	}
	if (i + 1 >= argc || strcmp(argv[i], "--") ||
	    ((ready || per_thread) && sample_after < 0) || exit_hold < 0) {
		fprintf(stderr, "usage: rig-run [--name NAME] "
			"[--sample-after SEC] [--ready] [--exit-hold SEC] "
			"[--per-thread] -- COMMAND [ARG...]\n");
		return 2;
	}
	/* The first periodic sample; a zero interval would never end. */
	if (sample_after >= 0 && sample_after < 0.1)
		sample_after = 0.1;
	next_sample = sample_after;

	start = now();
	pid = fork();
	if (pid < 0) {
		perror("rig-run: fork");
		return 1;
	}
	if (!pid) {
		if (ready)
			setenv("NH_READY", "stop", 1);
		/* Stops with SIGTRAP after the exec, for the options below. */
		if (sample_after >= 0 && ptrace(PTRACE_TRACEME, 0, NULL, NULL)) {
			perror("rig-run: ptrace(PTRACE_TRACEME)");
			_exit(127);
		}
		execvp(argv[i + 1], argv + i + 1);
		fprintf(stderr, "rig-run: %s: %s\n", argv[i + 1],
			strerror(errno));
		_exit(127);
	}

	for (;;) {
		/* No periodic sample to take (none wanted, or after the
		 * exit sample): wait. */
		got = wait4(pid, &status, next_sample < 0 ? 0 : WNOHANG, &ru);
		if (got < 0 && errno != EINTR) {
			perror("rig-run: wait4");
			return 1;
		}
		if (got == pid && !WIFSTOPPED(status))
			break;
		if (got == pid &&
		    status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
			/* The main thread exits: its memory is still there. */
			stopped = now();
			samples += sample(name, pid, "exit",
					  stopped - paused - start);
			sleep_s(exit_hold);
			paused += now() - stopped;
			next_sample = -1;
			ptrace(PTRACE_CONT, pid, NULL, NULL);
			continue;
		}
		if (got == pid) {
			/* A signal for the workload (ptrace's signal stop). */
			sig = WSTOPSIG(status);
			if (sig == SIGTRAP && !traced) {
				/* The stop after exec: trace its exit. */
				traced = 1;
				if (per_thread && trace_start(pid)) {
					printf("RIG-RUN-NOTE name=%s per-thread: no tracefs or no kmem:mm_page_alloc event\n",
					       name);
					per_thread = 0;
				}
				if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
					   PTRACE_O_TRACEEXIT |
					   PTRACE_O_EXITKILL)) {
					perror("rig-run: PTRACE_SETOPTIONS");
					kill(pid, SIGKILL);
				}
				sig = 0;
			} else if (sig == SIGSTOP && ready && !ready_seen) {
				/* Its working set is set up (nh_ready()). */
				stopped = now();
				samples += sample(name, pid, "ready",
						  stopped - paused - start);
				ready_seen = 1;
				paused += now() - stopped;
				sig = 0;
			} else if (sig == SIGSTOP || sig == SIGTSTP ||
				   sig == SIGTTIN || sig == SIGTTOU) {
				sig = 0;
			}
			ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
			continue;
		}
		if (next_sample < 0)
			continue;
		if (now() - paused - start >= next_sample) {
			samples += sample(name, pid, "periodic",
					  now() - paused - start);
			next_sample *= 2;
			continue;
		}
		sleep_s(POLL_NS / 1e9);
	}
	if (per_thread)
		trace_stop();
	printf("RIG-RUN-RESULT name=%s exit=%d signal=%d wall=%.3f minflt=%ld majflt=%ld utime=%.3f stime=%.3f samples=%d\n",
	       name, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
	       WIFSIGNALED(status) ? WTERMSIG(status) : 0,
	       now() - start - paused,
	       ru.ru_minflt, ru.ru_majflt, tv_s(ru.ru_utime),
	       tv_s(ru.ru_stime), samples);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}
