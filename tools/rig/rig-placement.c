// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-placement: where the host (the outer VM) keeps guest pages.
 *
 *   rig-placement PID HVA GPA_FILE          pages listed in GPA_FILE
 *   rig-placement PID HVA --all LEN [DUMP]  every page of [HVA, HVA + LEN)
 *   rig-placement --from DUMP GPA_FILE      pages listed in GPA_FILE, as
 *                                           an earlier --all saw them
 *   rig-placement PID HVA GPA_FILE --move NODE
 *                                           move the pages listed in
 *                                           GPA_FILE to NODE
 *
 * PID is the inner QEMU, HVA the host address of guest RAM (the RAM block
 * at guest-physical 0, from HMP "info ramblock"), so guest-physical
 * address G is at HVA + G (inner guests stay below the PCI hole).
 * GPA_FILE holds "RIG-GPA NAME PFN+COUNT ..." lines (hex, 4 KiB frames),
 * as rig-touch prints them.  move_pages(2) with no target nodes reports
 * the node of each page.  Prints one line:
 *   pages=N node0=A node1=B ... absent=C error=D
 * (absent: no host page behind it: never touched, or discarded).
 *
 * --all and --from also count huge=H, the pages that sit in a host huge
 * page (a transparent huge page or a hugetlb page: KPF_THP or KPF_HUGE in
 * /proc/kpageflags, for pages whose frame in /proc/PID/pagemap lies in an
 * aligned 2 MiB run; a THP mapped by PTEs after a split of its PMD still
 * counts until the kernel splits the page itself).
 *
 * --move is the raw loop that experiments/placement-bench compares the
 * device's placement with: move_pages(2) over the host pages behind the
 * listed pages, 256 a call, one address per host huge page (by
 * /proc/kpageflags, as --all) and one per 4 KiB page otherwise, as a
 * process that knows exactly what to move would do.  Prints one line:
 *   moved pages=N host_pages=H to=NODE moved_4k=M failed=F seconds=S
 *   cpu_seconds=C pages_per_s=R
 * (M: 4 KiB pages of the host pages now on NODE, a huge one counting all
 * its 512; R: M over the wall time; failed: host pages move_pages could
 * not move, absent ones included).
 *
 * --all with DUMP also writes the state of every page to DUMP, one signed
 * byte a page (its node, plus HUGE_BIT when it sits in a host huge page,
 * or -1 absent, -2 error), so that a sample can be taken at once and
 * related to pages named later (--from).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/mempolicy.h>

#define MAX_NODES 64
#define BATCH 65536
/* Host pages per move_pages call of --move, as placement-bench's raw loop. */
#define MOVE_BATCH 256
#define GUEST_PAGE 4096ULL

#define STATE_ABSENT (-1)
#define STATE_ERROR (-2)
/* In a dump: the page sits in a host huge page (MAX_NODES is below it). */
#define HUGE_BIT 0x40

#define PM_PFN_MASK ((1ULL << 55) - 1)
#define PM_PRESENT (1ULL << 63)
#define KPF_HUGE 17
#define KPF_THP 22
/* 4 KiB pages in a 2 MiB host huge page. */
#define HUGE_PAGES 512

static void **pages;
static size_t n_pages, cap_pages;
static long counts[MAX_NODES], absent, error, huge = -1;

static void count(int state)
{
	if (state >= 0 && (state & HUGE_BIT)) {
		huge = huge < 0 ? 1 : huge + 1;
		state &= ~HUGE_BIT;
	}
	if (state >= 0 && state < MAX_NODES)
		counts[state]++;
	else if (state == STATE_ABSENT)
		absent++;
	else
		error++;
}

/*
 * Which of the n pages at addrs (ascending) sit in a host huge page:
 * huge_of[i] = 1.  A page can only be in a PMD-sized host page if its
 * frame and its address agree modulo 2 MiB; the flags of those frames
 * are read in runs of consecutive frames, so that a 2 MiB page costs one
 * read.  Returns -1 if pagemap or kpageflags cannot be read.
 */
static int find_huge(int pid, void **addrs, size_t n, char *huge_of)
{
	uint64_t *pm = malloc(HUGE_PAGES * sizeof(*pm));
	uint64_t flags[HUGE_PAGES];
	char path[64];
	int pm_fd, kf_fd;
	size_t i = 0;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pm_fd = open(path, O_RDONLY);
	kf_fd = open("/proc/kpageflags", O_RDONLY);
	if (!pm || pm_fd < 0 || kf_fd < 0) {
		free(pm);
		if (pm_fd >= 0)
			close(pm_fd);
		if (kf_fd >= 0)
			close(kf_fd);
		return -1;
	}
	memset(huge_of, 0, n);
	while (i < n) {
		/* Pages of one 2 MiB-aligned stretch of addresses. */
		uintptr_t base = (uintptr_t)addrs[i] & ~(uintptr_t)
				 (HUGE_PAGES * GUEST_PAGE - 1);
		size_t first = i, k, run;

		while (i < n && (uintptr_t)addrs[i] - base <
		       HUGE_PAGES * GUEST_PAGE)
			i++;
		if (pread(pm_fd, pm, HUGE_PAGES * sizeof(*pm),
			  base / GUEST_PAGE * sizeof(*pm)) !=
		    (ssize_t)(HUGE_PAGES * sizeof(*pm)))
			continue;
		for (k = first; k < i; k += run) {
			size_t slot = ((uintptr_t)addrs[k] - base) / GUEST_PAGE;
			uint64_t pfn = pm[slot] & PM_PFN_MASK, j;

			run = 1;
			if (!(pm[slot] & PM_PRESENT) || !pfn ||
			    pfn % HUGE_PAGES != slot)
				continue;
			/* Pages of this stretch whose frames follow on. */
			while (k + run < i &&
			       ((uintptr_t)addrs[k + run] - base) / GUEST_PAGE ==
			       slot + run &&
			       (pm[slot + run] & PM_PRESENT) &&
			       (pm[slot + run] & PM_PFN_MASK) == pfn + run)
				run++;
			if (pread(kf_fd, flags, run * sizeof(*flags),
				  pfn * sizeof(*flags)) !=
			    (ssize_t)(run * sizeof(*flags)))
				continue;
			for (j = 0; j < run; j++) {
				if (flags[j] & (1ULL << KPF_THP |
						1ULL << KPF_HUGE))
					huge_of[k + j] = 1;
			}
		}
	}
	free(pm);
	close(pm_fd);
	close(kf_fd);
	return 0;
}

static void print_counts(void)
{
	int node;

	printf("pages=%zu", n_pages);
	for (node = 0; node < MAX_NODES; node++) {
		if (counts[node] || node < 2)
			printf(" node%d=%ld", node, counts[node]);
	}
	printf(" absent=%ld error=%ld", absent, error);
	if (huge >= 0)
		printf(" huge=%ld", huge);
	printf("\n");
}

static void add_page(uintptr_t addr)
{
	if (n_pages == cap_pages) {
		cap_pages = cap_pages ? 2 * cap_pages : 65536;
		pages = realloc(pages, cap_pages * sizeof(*pages));
		if (!pages) {
			perror("realloc");
			exit(1);
		}
	}
	pages[n_pages++] = (void *)addr;
}

static void read_gpa_file(const char *path, uintptr_t hva)
{
	FILE *f = fopen(path, "r");
	char line[4096];

	if (!f) {
		perror(path);
		exit(1);
	}
	while (fgets(line, sizeof(line), f)) {
		char *tok = strstr(line, "RIG-GPA ");
		char *save;

		if (!tok)
			continue;
		strtok_r(tok, " \r\n", &save);		/* RIG-GPA */
		strtok_r(NULL, " \r\n", &save);		/* NAME */
		while ((tok = strtok_r(NULL, " \r\n", &save))) {
			char *plus = strchr(tok, '+');
			unsigned long long pfn, count, i;

			if (!plus)
				continue;
			pfn = strtoull(tok, NULL, 16);
			count = strtoull(plus + 1, NULL, 16);
			for (i = 0; i < count; i++)
				add_page(hva + (pfn + i) * GUEST_PAGE);
		}
	}
	fclose(f);
}

static int from_dump(const char *dump_path, const char *gpa_path)
{
	FILE *f = fopen(dump_path, "rb");
	signed char *state;
	size_t n, i;
	long size;

	if (!f) {
		perror(dump_path);
		return 1;
	}
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	rewind(f);
	state = malloc(size > 0 ? size : 1);
	if (!state || fread(state, 1, size, f) != (size_t)size) {
		perror(dump_path);
		return 1;
	}
	fclose(f);
	n = size;
	/* Pages as offsets from address 0: the dump's index. */
	read_gpa_file(gpa_path, 0);
	huge = 0;	/* the dump's HUGE_BIT says which are */
	for (i = 0; i < n_pages; i++) {
		size_t index = (uintptr_t)pages[i] / GUEST_PAGE;

		count(index < n ? state[index] : STATE_ERROR);
	}
	print_counts();
	return 0;
}

static double clock_s(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* --move: the listed pages (in pages[]) to node. */
static int move(int pid, int node)
{
	char *huge_of = calloc(n_pages ? n_pages : 1, 1);
	void **host = calloc(n_pages ? n_pages : 1, sizeof(*host));
	char *host_huge = calloc(n_pages ? n_pages : 1, 1);
	int nodes[MOVE_BATCH], status[MOVE_BATCH];
	size_t n_host = 0, done, i;
	long failed = 0, moved = 0;
	double start, cpu;

	if (!huge_of || !host || !host_huge)
		return 1;
	if (find_huge(pid, pages, n_pages, huge_of)) {
		fprintf(stderr, "rig-placement: cannot read /proc/%d/pagemap "
			"or /proc/kpageflags\n", pid);
		return 1;
	}
	for (i = 0; i < n_pages; i++) {
		uintptr_t addr = (uintptr_t)pages[i];

		if (huge_of[i])
			addr &= ~(uintptr_t)(HUGE_PAGES * GUEST_PAGE - 1);
		if (!n_host || (uintptr_t)host[n_host - 1] != addr) {
			host_huge[n_host] = huge_of[i];
			host[n_host++] = (void *)addr;
		}
	}
	for (i = 0; i < MOVE_BATCH; i++)
		nodes[i] = node;
	start = clock_s(CLOCK_MONOTONIC);
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	for (done = 0; done < n_host; done += MOVE_BATCH) {
		size_t n = n_host - done < MOVE_BATCH ? n_host - done :
			   MOVE_BATCH;

		if (syscall(SYS_move_pages, pid, n, host + done, nodes, status,
			    MPOL_MF_MOVE) < 0) {
			fprintf(stderr, "move_pages: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (status[i] != node)
				failed++;
			else
				moved += host_huge[done + i] ? HUGE_PAGES : 1;
		}
	}
	cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu;
	start = clock_s(CLOCK_MONOTONIC) - start;
	printf("moved pages=%zu host_pages=%zu to=%d moved_4k=%ld failed=%ld "
	       "seconds=%.4f cpu_seconds=%.4f pages_per_s=%.0f\n", n_pages,
	       n_host, node, moved, failed, start, cpu,
	       start > 0 ? moved / start : 0);
	free(huge_of);
	free(host);
	free(host_huge);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dump = NULL;
	signed char *states = NULL;
	char *huge_of = NULL;
	int *status;
	uintptr_t hva;
	size_t done;
	int pid;
	bool all;

	if (argc == 4 && !strcmp(argv[1], "--from"))
		return from_dump(argv[2], argv[3]);
	if (argc == 6 && !strcmp(argv[4], "--move")) {
		read_gpa_file(argv[3], strtoull(argv[2], NULL, 0));
		return move(atoi(argv[1]), atoi(argv[5]));
	}
	all = argc >= 4 && !strcmp(argv[3], "--all");
	if (argc < 4 || (all && (argc < 5 || argc > 6)) || (!all && argc > 4)) {
		fprintf(stderr, "usage: rig-placement PID HVA GPA_FILE\n"
			"       rig-placement PID HVA --all LEN [DUMP]\n"
			"       rig-placement --from DUMP GPA_FILE\n"
			"       rig-placement PID HVA GPA_FILE --move NODE\n");
		return 2;
	}
	pid = atoi(argv[1]);
	hva = strtoull(argv[2], NULL, 0);
	if (all) {
		unsigned long long len = strtoull(argv[4], NULL, 0), off;

		for (off = 0; off < len; off += GUEST_PAGE)
			add_page(hva + off);
		dump = argc == 6 ? argv[5] : NULL;
	} else {
		read_gpa_file(argv[3], hva);
	}
	status = calloc(BATCH, sizeof(*status));
	if (dump)
		states = calloc(n_pages ? n_pages : 1, 1);
	if (all)
		huge_of = calloc(n_pages ? n_pages : 1, 1);
	if (!status || (dump && !states) || (all && !huge_of))
		return 1;
	if (all) {
		if (find_huge(pid, pages, n_pages, huge_of)) {
			fprintf(stderr, "rig-placement: cannot read /proc/%d/"
				"pagemap or /proc/kpageflags: no huge=\n", pid);
			free(huge_of);
			huge_of = NULL;
		} else {
			huge = 0;
		}
	}
	for (done = 0; done < n_pages; done += BATCH) {
		size_t n = n_pages - done < BATCH ? n_pages - done : BATCH, i;

		if (syscall(SYS_move_pages, pid, n, pages + done, NULL, status,
			    0)) {
			fprintf(stderr, "move_pages: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			int state = status[i];

			/* Never touched, or discarded: no host page. */
			if (state == -ENOENT || state == -EFAULT)
				state = STATE_ABSENT;
			else if (state < 0 || state >= MAX_NODES)
				state = STATE_ERROR;
			else if (huge_of && huge_of[done + i])
				state |= HUGE_BIT;
			count(state);
			if (states)
				states[done + i] = state;
		}
	}
	if (dump) {
		FILE *f = fopen(dump, "wb");

		if (!f || fwrite(states, 1, n_pages, f) != n_pages ||
		    fclose(f)) {
			perror(dump);
			return 1;
		}
	}
	print_counts();
	return 0;
}
