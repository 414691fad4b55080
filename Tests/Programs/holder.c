/*
 * Holds real TCP connections on loopback for the audit's tests, until its
 * standard input closes or it is killed.
 *
 *   holder SPEC...   SPEC is FAMILY:MODE
 *     FAMILY  4 (127.0.0.1), 6 (::1), or mapped (an IPv6 listener on :: that
 *             accepts an IPv4 client, so the server side is ::ffff:127.0.0.1);
 *             udp (two UDP sockets on 127.0.0.1 connected to each other) or unix
 *             (a connected AF_UNIX stream pair), which take MODE none only
 *     MODE    none                the client sets no keepalive
 *             keepalive:I[:V:C]   the client sets SO_KEEPALIVE, TCP_KEEPIDLE I
 *                                 and optionally TCP_KEEPINTVL V, TCP_KEEPCNT C
 *             stalled:I           keepalive:I, then the client writes until the
 *                                 server, which never reads, closes its window
 *
 *   holder name:TEXT ...   first renames itself TEXT (prctl PR_SET_NAME: what
 *             /proc/PID/comm shows, 15 bytes at most), as any process may
 *
 * For each TCP SPEC it prints "connection index=N client=PORT server=PORT", for
 * udp and unix "held index=N family=FAMILY", then "ready".  The accepted (server)
 * side never sets keepalive.
 *
 * A line "report" on standard input makes it print, for every socket it holds,
 * what getsockopt reads on it now, then "reported N" (N counts the reports):
 *   socket index=N side=client|server family=F fd=FD keepalive=K idle=I
 *          interval=V count=C user_timeout=U
 * with "-" for an option the socket refuses (the TCP ones on udp and unix).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void set(int fd, int level, int option, int value)
{
	if (setsockopt(fd, level, option, &value, sizeof value) != 0)
		fail("holder: setsockopt");
}

static unsigned short port_of(int fd)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof address;
	if (getsockname(fd, (struct sockaddr *)&address, &length) != 0)
		fail("holder: getsockname");
	return ntohs(address.ss_family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
						  : ((struct sockaddr_in6 *)&address)->sin6_port);
}

/* Fills the peer's receive window: the client then has data no ACK can take. */
static void stall(int client)
{
	char block[4096];
	memset(block, 'x', sizeof block);
	fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK);
	while (write(client, block, sizeof block) > 0)
		;
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		fail("holder: write");
}

/* Every socket held, for "report". */
static struct held {
	int index, fd;
	const char *side, *family;
} held[256];
static int held_count;

static void remember(int index, int fd, const char *side, const char *family)
{
	if (held_count == (int)(sizeof held / sizeof held[0])) {
		fprintf(stderr, "holder: too many sockets\n");
		exit(2);
	}
	held[held_count++] = (struct held){index, fd, side, family};
}

/* The option's value, or "-" when the socket refuses it. */
static const char *option(int fd, int level, int name, char *buffer, size_t size)
{
	int value;
	socklen_t length = sizeof value;
	if (getsockopt(fd, level, name, &value, &length) != 0)
		return "-";
	snprintf(buffer, size, "%d", value);
	return buffer;
}

static void report(void)
{
	static int reports;
	for (int i = 0; i < held_count; i++) {
		char k[16], idle[16], interval[16], count[16], timeout[16];
		int fd = held[i].fd;
		printf("socket index=%d side=%s family=%s fd=%d keepalive=%s idle=%s interval=%s count=%s user_timeout=%s\n",
		       held[i].index, held[i].side, held[i].family, fd, option(fd, SOL_SOCKET, SO_KEEPALIVE, k, sizeof k),
		       option(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, sizeof idle),
		       option(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval, sizeof interval),
		       option(fd, IPPROTO_TCP, TCP_KEEPCNT, count, sizeof count),
		       option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, timeout, sizeof timeout));
	}
	printf("reported %d\n", ++reports);
	fflush(stdout);
}

/* udp:none and unix:none: a pair of connected sockets that are not TCP. */
static void hold_other(int index, const char *family, const char *mode)
{
	if (strcmp(mode, "none") != 0) {
		fprintf(stderr, "holder: %s takes mode none only\n", family);
		exit(2);
	}
	int pair[2];
	if (strcmp(family, "unix") == 0) {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, pair) != 0)
			fail("holder: socketpair");
	} else {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		for (int i = 0; i < 2; i++)
			if ((pair[i] = socket(AF_INET, SOCK_DGRAM, 0)) < 0 || bind(pair[i], (struct sockaddr *)&in, sizeof in) != 0)
				fail("holder: udp");
		for (int i = 0; i < 2; i++) {
			in.sin_port = htons(port_of(pair[1 - i]));
			if (connect(pair[i], (struct sockaddr *)&in, sizeof in) != 0)
				fail("holder: udp connect");
		}
	}
	remember(index, pair[0], "client", family);
	remember(index, pair[1], "server", family);
	printf("held index=%d family=%s\n", index, family);
}

static void hold(int index, const char *spec)
{
	if (strncmp(spec, "name:", 5) == 0) {
		if (prctl(PR_SET_NAME, spec + 5, 0, 0, 0) != 0)
			fail("holder: prctl");
		return;
	}
	if (strncmp(spec, "udp:", 4) == 0 || strncmp(spec, "unix:", 5) == 0) {
		const char *family = strncmp(spec, "udp:", 4) == 0 ? "udp" : "unix";
		hold_other(index, family, spec + strlen(family) + 1);
		return;
	}
	int v4_only = strncmp(spec, "4:", 2) == 0, v6 = strncmp(spec, "6:", 2) == 0;
	int mapped = strncmp(spec, "mapped:", 7) == 0;
	const char *mode = strchr(spec, ':');
	if (!(v4_only || v6 || mapped) || mode == NULL) {
		fprintf(stderr, "holder: bad spec %s\n", spec);
		exit(2);
	}
	mode++;

	struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = v6 ? in6addr_loopback : in6addr_any};
	int listener = socket(v4_only ? AF_INET : AF_INET6, SOCK_STREAM, 0);
	if (listener < 0)
		fail("holder: socket");
	if (mapped)
		set(listener, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	if (strncmp(mode, "stalled:", 8) == 0)
		set(listener, SOL_SOCKET, SO_RCVBUF, 4096);
	if ((v4_only ? bind(listener, (struct sockaddr *)&in, sizeof in) : bind(listener, (struct sockaddr *)&in6, sizeof in6)) != 0 ||
	    listen(listener, 1) != 0)
		fail("holder: listen");
	unsigned short server_port = port_of(listener);
	in.sin_port = htons(server_port);
	in6.sin6_port = htons(server_port);
	in6.sin6_addr = in6addr_loopback;

	int client = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM, 0);
	if (client < 0 || (v6 ? connect(client, (struct sockaddr *)&in6, sizeof in6) : connect(client, (struct sockaddr *)&in, sizeof in)) != 0)
		fail("holder: connect");
	int server = accept(listener, NULL, NULL);
	if (server < 0)
		fail("holder: accept");
	const char *family = v4_only ? "4" : v6 ? "6" : "mapped";
	remember(index, client, "client", family);
	remember(index, server, "server", family);

	int idle, interval = 0, count = 0;
	if (strcmp(mode, "none") == 0) {
		idle = 0;
	} else if (sscanf(mode, "keepalive:%d:%d:%d", &idle, &interval, &count) >= 1 ||
		   sscanf(mode, "stalled:%d", &idle) == 1) {
		set(client, SOL_SOCKET, SO_KEEPALIVE, 1);
		set(client, IPPROTO_TCP, TCP_KEEPIDLE, idle);
		if (interval > 0)
			set(client, IPPROTO_TCP, TCP_KEEPINTVL, interval);
		if (count > 0)
			set(client, IPPROTO_TCP, TCP_KEEPCNT, count);
		if (strncmp(mode, "stalled:", 8) == 0)
			stall(client);
	} else {
		fprintf(stderr, "holder: bad mode %s\n", mode);
		exit(2);
	}
	printf("connection index=%d client=%u server=%u\n", index, port_of(client), server_port);
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		hold(i - 1, argv[i]);
	printf("ready\n");
	fflush(stdout);
	char line[64];
	while (fgets(line, sizeof line, stdin) != NULL)
		if (strcmp(line, "report\n") == 0)
			report();
	return 0;
}
