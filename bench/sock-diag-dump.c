/*
 * How long a NETLINK_SOCK_DIAG dump (Sources/CLinux/sock_diag.c) takes against reading
 * /proc/net/tcp and tcp6, on CONNECTIONS established loopback connections (twice as many
 * sockets), then again with TIME_WAIT sockets present.
 *
 * It runs in a network namespace of its own (unshare(CLONE_NEWNET), so root), which goes away
 * with its processes: the host's ports and tables are not touched, and no other program's
 * sockets are counted. One process may hold 20,000 files here, so HOLDERS child processes
 * hold the connections, each to its own listener port.
 *
 *   sock-diag-dump [CONNECTIONS] [TIME_WAIT] [ROUNDS]    (defaults 20000, 20000, 15)
 *
 * Each measurement is the median of ROUNDS runs, interleaved with the others.
 */
#define _GNU_SOURCE
#include "sock_diag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOLDERS 4
#define BASE_PORT 10000
#define FEW_PORT 9000 /* a listener with FEW connections: the selective filter's port */
#define FEW 10
#define TIME_WAIT_PORT 11000

static void die(const char *what)
{
	perror(what);
	exit(2);
}

static double now(void)
{
	struct timespec time;
	clock_gettime(CLOCK_MONOTONIC, &time);
	return (double)time.tv_sec + (double)time.tv_nsec / 1e9;
}

static int listener(uint16_t port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 4096) != 0)
		die("listener");
	return fd;
}

/* `count` connections to `port`: both ends stay open, so 2 x count sockets. */
static void connect_many(int server, uint16_t port, int count, int close_them)
{
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	for (int i = 0; i < count; i++) {
		int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof address) != 0)
			die("connect");
		int accepted = accept4(server, NULL, NULL, SOCK_CLOEXEC);
		if (accepted < 0)
			die("accept");
		if (close_them) {
			/* The client closes first: its side stays in TIME_WAIT for 60 s. */
			close(client);
			close(accepted);
		}
	}
}

/* A child that holds `count` connections to its own listener until its pipe closes. */
static pid_t hold(uint16_t port, int count)
{
	int ready[2];
	if (pipe(ready) != 0)
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(ready[0]);
		int server = listener(port);
		connect_many(server, port, count, 0);
		if (write(ready[1], "r", 1) != 1)
			die("write");
		pause();
		_exit(0);
	}
	close(ready[1]);
	char byte;
	if (read(ready[0], &byte, 1) != 1) {
		fprintf(stderr, "a holder failed\n");
		exit(2);
	}
	close(ready[0]);
	return pid;
}

/* ---- What is measured -------------------------------------------------------------------------- */

static int count_socket(const struct tcpkeep_diag_socket *socket, void *context)
{
	(void)socket;
	++*(size_t *)context;
	return 0;
}

static int diag_fd;

static size_t diag_dump(uint32_t states, const struct tcpkeep_diag_port_range *ranges, size_t count)
{
	size_t sockets = 0;
	if (tcpkeep_diag_dump(diag_fd, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, states, ranges, count, count_socket, &sockets) != 0)
		die("tcpkeep_diag_dump");
	return sockets;
}

static size_t dump_all(void)
{
	return diag_dump(TCPKEEP_DIAG_ALL_STATES, NULL, 0);
}

static size_t dump_established(void)
{
	return diag_dump(TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED), NULL, 0);
}

static size_t dump_one_port_many(void)
{
	struct tcpkeep_diag_port_range range = {BASE_PORT, BASE_PORT};
	return diag_dump(TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED), &range, 1);
}

static size_t dump_one_port_few(void)
{
	struct tcpkeep_diag_port_range range = {FEW_PORT, FEW_PORT};
	return diag_dump(TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED), &range, 1);
}

static char proc_buffer[1 << 16];

/* /proc/net/tcp and tcp6 read to the end; `parse` also takes every row's fields apart the
 * way the audit needs them (state, timer, inode), which is what reading them is for. */
static size_t read_proc(int parse)
{
	size_t rows = 0;
	const char *paths[2] = {"/proc/net/tcp", "/proc/net/tcp6"};
	for (int i = 0; i < 2; i++) {
		int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die("open /proc/net/tcp");
		char line[256];
		size_t line_length = 0;
		ssize_t got;
		while ((got = read(fd, proc_buffer, sizeof proc_buffer)) > 0) {
			for (ssize_t j = 0; j < got; j++) {
				char c = proc_buffer[j];
				if (c != '\n') {
					if (parse && line_length < sizeof line - 1)
						line[line_length++] = c;
					continue;
				}
				rows++;
				if (parse) {
					line[line_length] = 0;
					unsigned state = 0, timer = 0;
					unsigned long inode = 0;
					char *field = line;
					/* sl local rem st tx:rx tr:when retrnsmt uid timeout inode */
					for (int column = 0; column < 10 && field; column++) {
						while (*field == ' ')
							field++;
						if (column == 3)
							state = (unsigned)strtoul(field, NULL, 16);
						else if (column == 5)
							timer = (unsigned)strtoul(field, NULL, 16);
						else if (column == 9)
							inode = strtoul(field, NULL, 10);
						field = strchr(field, ' ');
					}
					(void)state, (void)timer, (void)inode;
					line_length = 0;
				}
			}
		}
		if (got < 0)
			die("read /proc/net/tcp");
		close(fd);
		rows--; /* the header */
	}
	return rows;
}

static size_t proc_read(void)
{
	return read_proc(0);
}

static size_t proc_parse(void)
{
	return read_proc(1);
}

static size_t ss_all(void)
{
	return (size_t)system("ss -tanoH >/dev/null");
}

struct measure {
	const char *name;
	size_t (*run)(void);
	double times[64];
	size_t result;
};

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void measure(struct measure *list, size_t count, int rounds, const char *title)
{
	printf("%s\n", title);
	for (int round = 0; round < rounds; round++) {
		for (size_t k = 0; k < count; k++) {
			struct measure *m = &list[(k + (size_t)round) % count]; /* rotate the order */
			double start = now();
			m->result = m->run();
			m->times[round] = now() - start;
		}
	}
	for (size_t k = 0; k < count; k++) {
		qsort(list[k].times, (size_t)rounds, sizeof(double), by_value);
		printf("  %-52s %8.2f ms median  %8.2f ms min  (%zu)\n", list[k].name, 1000 * list[k].times[rounds / 2],
		       1000 * list[k].times[0], list[k].result);
	}
}

int main(int argc, char **argv)
{
	int connections = argc > 1 ? atoi(argv[1]) : 20000;
	int time_wait = argc > 2 ? atoi(argv[2]) : 20000;
	int rounds = argc > 3 ? atoi(argv[3]) : 15;
	if (rounds < 1 || rounds > 64 || connections < HOLDERS) {
		fprintf(stderr, "usage: sock-diag-dump [CONNECTIONS] [TIME_WAIT] [ROUNDS<=64]\n");
		return 2;
	}
	if (unshare(CLONE_NEWNET) != 0)
		die("unshare(CLONE_NEWNET) (needs root)");
	if (system("ip link set lo up") != 0)
		die("ip link set lo up");
	setvbuf(stdout, NULL, _IOLBF, 0);

	double start = now();
	pid_t holders[HOLDERS + 2];
	for (int i = 0; i < HOLDERS; i++)
		holders[i] = hold((uint16_t)(BASE_PORT + i), connections / HOLDERS);
	holders[HOLDERS] = hold(FEW_PORT, FEW);
	printf("%d established connections (%d sockets) in %d processes, and %d more on port %d, in %.1f s\n",
	       connections / HOLDERS * HOLDERS, connections / HOLDERS * HOLDERS * 2, HOLDERS, FEW, FEW_PORT, now() - start);

	diag_fd = tcpkeep_diag_open();
	if (diag_fd < 0)
		die("tcpkeep_diag_open");
	struct measure list[] = {
		{.name = "netlink, every state", .run = dump_all},
		{.name = "netlink, ESTABLISHED", .run = dump_established},
		{.name = "netlink, ESTABLISHED, port 10000 (a quarter)", .run = dump_one_port_many},
		{.name = "netlink, ESTABLISHED, port 9000 (20 sockets)", .run = dump_one_port_few},
		{.name = "/proc/net/tcp + tcp6, read only", .run = proc_read},
		{.name = "/proc/net/tcp + tcp6, read and split", .run = proc_parse},
		{.name = "ss -tanoH (process start included)", .run = ss_all},
	};
	size_t count = sizeof list / sizeof list[0];
	measure(list, count, rounds, "without TIME_WAIT sockets:");

	start = now();
	/* Over several ports: connect() takes even ports first (half the range, about 14,000
	 * here) and, with net.ipv4.tcp_tw_reuse = 2 (the default since 6.x, loopback only), reuses
	 * a port in TIME_WAIT to the same peer, which would end that TIME_WAIT socket early. */
	for (int i = 0; i < HOLDERS; i++) {
		int server = listener((uint16_t)(TIME_WAIT_PORT + i));
		connect_many(server, (uint16_t)(TIME_WAIT_PORT + i), time_wait / HOLDERS, 1);
		close(server);
	}
	sleep(1);
	size_t waiting = diag_dump(TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_TIME_WAIT), NULL, 0);
	printf("%zu TIME_WAIT sockets made in %.1f s (they last 60 s; the rounds take less)\n", waiting, now() - start);
	measure(list, count, rounds, "with them:");
	double after = now() - start;
	size_t still = diag_dump(TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_TIME_WAIT), NULL, 0);
	printf("%zu TIME_WAIT sockets left %.1f s after they were made\n", still, after);

	for (int i = 0; i <= HOLDERS; i++) {
		kill(holders[i], SIGKILL);
		waitpid(holders[i], NULL, 0);
	}
	return 0;
}
