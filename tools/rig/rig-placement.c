// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-placement: where the host (the outer VM) keeps guest pages.
 *
 *   rig-placement PID HVA GPA_FILE          pages listed in GPA_FILE
 *   rig-placement PID HVA --all LEN [DUMP]  every page of [HVA, HVA + LEN)
 *   rig-placement --from DUMP GPA_FILE      pages listed in GPA_FILE, as
 *                                           an earlier --all saw them
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
 * --all with DUMP also writes the state of every page to DUMP, one signed
 * byte a page (its node, or -1 absent, -2 error), so that a sample can be
 * taken at once and related to pages named later (--from).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_NODES 64
#define BATCH 65536
#define GUEST_PAGE 4096ULL

#define STATE_ABSENT (-1)
#define STATE_ERROR (-2)

static void **pages;
static size_t n_pages, cap_pages;
static long counts[MAX_NODES], absent, error;

static void count(int state)
{
	if (state >= 0 && state < MAX_NODES)
		counts[state]++;
	else if (state == STATE_ABSENT)
		absent++;
	else
		error++;
}

static void print_counts(void)
{
	int node;

	printf("pages=%zu", n_pages);
	for (node = 0; node < MAX_NODES; node++) {
		if (counts[node] || node < 2)
			printf(" node%d=%ld", node, counts[node]);
	}
	printf(" absent=%ld error=%ld\n", absent, error);
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
	for (i = 0; i < n_pages; i++) {
		size_t index = (uintptr_t)pages[i] / GUEST_PAGE;

		count(index < n ? state[index] : STATE_ERROR);
	}
	print_counts();
	return 0;
}

int main(int argc, char **argv)
{
	const char *dump = NULL;
	signed char *states = NULL;
	int *status;
	uintptr_t hva;
	size_t done;
	int pid;
	bool all;

	if (argc == 4 && !strcmp(argv[1], "--from"))
		return from_dump(argv[2], argv[3]);
	all = argc >= 4 && !strcmp(argv[3], "--all");
	if (argc < 4 || (all && (argc < 5 || argc > 6)) || (!all && argc > 4)) {
		fprintf(stderr, "usage: rig-placement PID HVA GPA_FILE\n"
			"       rig-placement PID HVA --all LEN [DUMP]\n"
			"       rig-placement --from DUMP GPA_FILE\n");
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
	if (!status || (dump && !states))
		return 1;
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
