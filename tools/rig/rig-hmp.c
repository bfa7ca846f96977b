// SPDX-License-Identifier: GPL-2.0-or-later
/*
 * rig-hmp: run one command on a QEMU human monitor (HMP) unix socket.
 *
 *   rig-hmp SOCKET COMMAND...
 *
 * Waits for the "(qemu) " prompt, sends the command, prints what QEMU
 * answers up to the next prompt (carriage returns and terminal escapes
 * removed).  Gives up after 20 seconds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define PROMPT "(qemu) "

static char buf[1 << 20];
static size_t len;

/* Read until the buffer ends with the prompt; 0 on success. */
static int read_prompt(int fd)
{
	while (len < sizeof(buf) - 1) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - 1 - len);

		if (n <= 0)
			return -1;
		len += n;
		buf[len] = 0;
		if (len >= strlen(PROMPT) &&
		    !strcmp(buf + len - strlen(PROMPT), PROMPT))
			return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char command[4096] = "";
	size_t i;
	int fd, a;

	if (argc < 3) {
		fprintf(stderr, "usage: rig-hmp SOCKET COMMAND...\n");
		return 2;
	}
	alarm(20);
	for (a = 2; a < argc; a++) {
		strncat(command, argv[a], sizeof(command) - strlen(command) - 2);
		strcat(command, a + 1 < argc ? " " : "\n");
	}
	strncpy(addr.sun_path, argv[1], sizeof(addr.sun_path) - 1);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		perror(argv[1]);
		return 1;
	}
	if (read_prompt(fd)) {
		fprintf(stderr, "rig-hmp: no monitor prompt\n");
		return 1;
	}
	len = 0;
	if (write(fd, command, strlen(command)) != (ssize_t)strlen(command))
		return 1;
	if (read_prompt(fd) && !strstr(command, "quit"))
		return 1;
	for (i = 0; i < len; i++) {
		if (buf[i] == '\033') {		/* ESC [ params letter */
			i++;
			while (i < len && buf[i] != '\0' &&
			       !((buf[i] >= 'A' && buf[i] <= 'Z') ||
				 (buf[i] >= 'a' && buf[i] <= 'z')))
				i++;
			continue;
		}
		if (buf[i] != '\r')
			putchar(buf[i]);
	}
	return 0;
}
