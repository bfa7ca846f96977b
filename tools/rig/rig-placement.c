// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-placement: where the host (the outer VM) keeps guest pages.
 *
 *   rig-placement PID HVA GPA_FILE   pages listed in GPA_FILE
 *   rig-placement PID HVA --all LEN  every page of [HVA, HVA + LEN)
 *
 * PID is the inner QEMU, HVA the host address of guest RAM (the RAM block
 * at guest-physical 0, from HMP "info ramblock"), so guest-physical
 * address G is at HVA + G (inner guests stay below the PCI hole).
 * GPA_FILE holds "RIG-GPA NAME PFN+COUNT ..." lines (hex, 4 KiB frames),
 * as rig-touch prints them.  move_pages(2) with no target nodes reports
 * the node of each page.  Prints one line:
 *   pages=N node0=A node1=B ... absent=C error=D
 * (absent: no host page behind it: never touched, or discarded).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_NODES 64
#define BATCH 65536
#define GUEST_PAGE 4096ULL

static void **pages;
static size_t n_pages, cap_pages;

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

int main(int argc, char **argv)
{
	long counts[MAX_NODES] = { 0 }, absent = 0, error = 0;
	int *status;
	uintptr_t hva;
	size_t done;
	int pid, node;

	if (argc < 4 || (!strcmp(argv[3], "--all") && argc < 5)) {
		fprintf(stderr, "usage: rig-placement PID HVA GPA_FILE\n"
			"       rig-placement PID HVA --all LEN\n");
		return 2;
	}
	pid = atoi(argv[1]);
	hva = strtoull(argv[2], NULL, 0);
	if (!strcmp(argv[3], "--all")) {
		unsigned long long len = strtoull(argv[4], NULL, 0), off;

		for (off = 0; off < len; off += GUEST_PAGE)
			add_page(hva + off);
	} else {
		read_gpa_file(argv[3], hva);
	}
	status = calloc(BATCH, sizeof(*status));
	if (!status)
		return 1;
	for (done = 0; done < n_pages; done += BATCH) {
		size_t n = n_pages - done < BATCH ? n_pages - done : BATCH, i;

		if (syscall(SYS_move_pages, pid, n, pages + done, NULL, status,
			    0)) {
			fprintf(stderr, "move_pages: %s\n", strerror(errno));
			return 1;
		}
		for (i = 0; i < n; i++) {
			if (status[i] >= 0 && status[i] < MAX_NODES)
				counts[status[i]]++;
			else if (status[i] == -ENOENT || status[i] == -EFAULT)
				absent++;	/* never touched, or discarded */
			else
				error++;
		}
	}
	printf("pages=%zu", n_pages);
	for (node = 0; node < MAX_NODES; node++) {
		if (counts[node] || node < 2)
			printf(" node%d=%ld", node, counts[node]);
	}
	printf(" absent=%ld error=%ld\n", absent, error);
	return 0;
}
