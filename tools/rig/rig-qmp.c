// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-qmp: the round-trip time of QMP commands on a QEMU's QMP socket.
 *
 *   rig-qmp SOCKET [N]
 *
 * Negotiates capabilities, then sends "query-status" N times (default
 * 1000), one at a time, each when the previous one's answer came, and
 * times each from the write to its answer (CLOCK_MONOTONIC).  Events QEMU
 * sends in between are skipped.  Prints one line:
 *   qmp_n=N qmp_p50_us=A qmp_p99_us=B qmp_max_us=C qmp_seconds=S
 * A QMP command runs in QEMU's main loop with the big QEMU lock held, so
 * its round trip is how long the main loop takes to get to it.  Gives up
 * after 120 seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char buf[1 << 16];
static size_t len;

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

/*
 * Read whole lines until one contains @key (QMP ends each message with a
 * newline); drop what was read.  0 on success.
 */
static int read_until(int fd, const char *key)
{
	for (;;) {
		char *nl;
		ssize_t n;

		while ((nl = memchr(buf, '\n', len))) {
			size_t line = nl - buf + 1;
			int found;

			*nl = 0;
			found = strstr(buf, key) != NULL;
			memmove(buf, buf + line, len - line);
			len -= line;
			if (found)
				return 0;
		}
		if (len == sizeof(buf))
			len = 0;	/* a line longer than the buffer: skip */
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n <= 0)
			return -1;
		len += n;
	}
}

static int send_line(int fd, const char *line)
{
	return write(fd, line, strlen(line)) == (ssize_t)strlen(line) ? 0 : -1;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	double *rtt, start;
	int fd, n, i;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: rig-qmp SOCKET [N]\n");
		return 2;
	}
	n = argc == 3 ? atoi(argv[2]) : 1000;
	rtt = calloc(n > 0 ? n : 1, sizeof(*rtt));
	if (n <= 0 || !rtt)
		return 2;
	alarm(120);
	strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror(argv[1]);
		return 1;
	}
	if (read_until(fd, "\"QMP\"") ||
	    send_line(fd, "{\"execute\": \"qmp_capabilities\"}\n") ||
	    read_until(fd, "\"return\"")) {
		fprintf(stderr, "rig-qmp: no QMP greeting or handshake\n");
		return 1;
	}
	start = now_us();
	for (i = 0; i < n; i++) {
		double t = now_us();

		if (send_line(fd, "{\"execute\": \"query-status\"}\n") ||
		    read_until(fd, "\"return\"")) {
			fprintf(stderr, "rig-qmp: no answer to query-status\n");
			return 1;
		}
		rtt[i] = now_us() - t;
	}
	start = now_us() - start;
	qsort(rtt, n, sizeof(*rtt), cmp);
	printf("qmp_n=%d qmp_p50_us=%.0f qmp_p99_us=%.0f qmp_max_us=%.0f "
	       "qmp_seconds=%.2f\n", n, rtt[n / 2], rtt[(n * 99) / 100],
	       rtt[n - 1], start / 1e6);
	return 0;
}
