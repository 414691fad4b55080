/*
 * Holds real TCP connections on loopback for the audit's tests, until its
 * standard input closes or it is killed.
 *
 *   holder SPEC...   SPEC is FAMILY:MODE
 *     FAMILY  4 (127.0.0.1), 6 (::1), or mapped (an IPv6 listener on :: that
 *             accepts an IPv4 client, so the server side is ::ffff:127.0.0.1)
 *     MODE    none                the client sets no keepalive
 *             keepalive:I[:V:C]   the client sets SO_KEEPALIVE, TCP_KEEPIDLE I
 *                                 and optionally TCP_KEEPINTVL V, TCP_KEEPCNT C
 *             stalled:I           keepalive:I, then the client writes until the
 *                                 server, which never reads, closes its window
 *
 * For each SPEC it prints "connection index=N client=PORT server=PORT", then
 * "ready".  The accepted (server) side never sets keepalive.
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
#include <sys/socket.h>
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

static void hold(int index, const char *spec)
{
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
	if (accept(listener, NULL, NULL) < 0)
		fail("holder: accept");

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
	char byte;
	while (read(STDIN_FILENO, &byte, 1) > 0)
		;
	return 0;
}
