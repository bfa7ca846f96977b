// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * Replay inputs through the numahint fuzz target without libFuzzer: the
 * seed corpus, and every input that once crashed the target, kept as a
 * regression test.  Built with any compiler, under AddressSanitizer and
 * UBSan.
 *
 *   replay FILE|DIR...
 *
 * One TAP result per argument: a file, or the regular files of a
 * directory (but README*), all of which must run clean.  Each input runs
 * in a child process, so that an abort or a sanitizer report fails that
 * input alone, named in a diagnostic line, and the others still run.
 */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest.h"
#include "numahint_fuzz.h"

#define MAX_INPUTS	4096
#define MAX_INPUT_SIZE	(1 << 20)

struct inputs {
	char *path[MAX_INPUTS];
	unsigned int nr;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void add_input(struct inputs *in, const char *path)
{
	if (in->nr == MAX_INPUTS)
		ksft_exit_fail_msg("more than %d inputs\n", MAX_INPUTS);
	in->path[in->nr] = strdup(path);
	if (!in->path[in->nr])
		ksft_exit_fail_msg("out of memory\n");
	in->nr++;
}

/* A file is an input; a directory's regular files are, except README*. */
static void collect(struct inputs *in, const char *path)
{
	struct dirent *d;
	struct stat st;
	char *name;
	DIR *dir;

	if (stat(path, &st))
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	if (!S_ISDIR(st.st_mode)) {
		add_input(in, path);
		return;
	}
	dir = opendir(path);
	if (!dir)
		ksft_exit_fail_msg("%s: %s\n", path, strerror(errno));
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.' || !strncmp(d->d_name, "README", 6))
			continue;
		if (asprintf(&name, "%s/%s", path, d->d_name) < 0)
			ksft_exit_fail_msg("out of memory\n");
		if (!stat(name, &st) && S_ISREG(st.st_mode))
			add_input(in, name);
		free(name);
	}
	closedir(dir);
	qsort(in->path, in->nr, sizeof(in->path[0]), cmp_names);
}

/* Run @path through the target in a child; true if it returned. */
static int replay(const char *path, size_t *size)
{
	static unsigned char buf[MAX_INPUT_SIZE];
	FILE *f = fopen(path, "rb");
	int status;
	pid_t pid;

	*size = 0;
	if (!f) {
		ksft_print_msg("%s: %s\n", path, strerror(errno));
		return 0;
	}
	*size = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		ksft_exit_fail_msg("fork: %s\n", strerror(errno));
	if (!pid) {
		unsigned char *data = malloc(*size ? *size : 1);

		/* Exactly the input's size, as libFuzzer hands it over. */
		if (!data)
			_exit(2);
		memcpy(data, buf, *size);
		LLVMFuzzerTestOneInput(data, *size);
		free(data);
		/* exit(), not _exit(): coverage builds write their profile. */
		exit(0);
	}
	if (waitpid(pid, &status, 0) < 0)
		ksft_exit_fail_msg("waitpid: %s\n", strerror(errno));
	if (WIFSIGNALED(status))
		ksft_print_msg("%s: killed by signal %d\n", path,
			       WTERMSIG(status));
	else if (WEXITSTATUS(status))
		ksft_print_msg("%s: exit status %d\n", path,
			       WEXITSTATUS(status));
	return WIFEXITED(status) && !WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	static struct inputs in;
	char name[4200];

	ksft_print_header();
	ksft_set_plan(argc - 1);
	for (int i = 1; i < argc; i++) {
		unsigned int failed = 0;
		size_t bytes = 0, size;

		in.nr = 0;
		collect(&in, argv[i]);
		for (unsigned int k = 0; k < in.nr; k++) {
			failed += !replay(in.path[k], &size);
			bytes += size;
			free(in.path[k]);
		}
		snprintf(name, sizeof(name), "replay %s: %u inputs (%zu bytes) "
			 "run clean", argv[i], in.nr, bytes);
		if (!in.nr)
			ksft_test_result_skip("%s: no inputs\n", name);
		else
			ksft_test_result(!failed, "%s\n", name);
	}
	ksft_finished();
}
