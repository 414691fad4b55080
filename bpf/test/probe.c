/*
 * A client and server for bpf/test/attach_check.c, linked with gcc -static so
 * that no LD_PRELOAD could reach it.  Every result is one line on stdout:
 *   <label> keepalive=K idle=I interval=N count=C user_timeout=U
 * (a value getsockopt() refused is printed as its errno name).
 *
 *   probe connect PORT [OWN_IDLE]  connect to 127.0.0.1:PORT and print the options; with
 *                                  OWN_IDLE, first turn keepalive on with that idle time
 *                                  (the program's own choice, made before connect)
 *   probe enforce PORT             connect, then try to loosen, tighten and overflow the
 *                                  options, printing each outcome
 *   probe serve                    listen on 127.0.0.1, print "port N", accept one
 *                                  connection and print its options
 *   probe mptcp-connect PORT [HOST]  connect with IPPROTO_MPTCP (to 127.0.0.1 or HOST);
 *                                  print, then hold the connection until stdin closes
 *   probe mptcp-loosen PORT        connect with IPPROTO_MPTCP, then set SO_KEEPALIVE=0 and
 *                                  TCP_KEEPIDLE=600 on the MPTCP socket; print and hold
 *   probe mptcp-serve              listen with IPPROTO_MPTCP; print "port N", accept one,
 *                                  print, then hold until stdin closes
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static void die(const char *what)
{
	printf("error %s: %s\n", what, strerrorname_np(errno) ? strerrorname_np(errno) : "?");
	exit(2);
}

static void option(char *out, size_t size, const char *name, int fd, int level, int optname)
{
	int value = 0;
	socklen_t length = sizeof value;
	if (getsockopt(fd, level, optname, &value, &length) == 0)
		snprintf(out, size, " %s=%d", name, value);
	else
		snprintf(out, size, " %s=%s", name, strerrorname_np(errno));
}

static void print_options(const char *label, int fd)
{
	char line[512], part[64];
	snprintf(line, sizeof line, "%s", label);
	option(part, sizeof part, "keepalive", fd, SOL_SOCKET, SO_KEEPALIVE);
	strncat(line, part, sizeof line - strlen(line) - 1);
	option(part, sizeof part, "idle", fd, IPPROTO_TCP, TCP_KEEPIDLE);
	strncat(line, part, sizeof line - strlen(line) - 1);
	option(part, sizeof part, "interval", fd, IPPROTO_TCP, TCP_KEEPINTVL);
	strncat(line, part, sizeof line - strlen(line) - 1);
	option(part, sizeof part, "count", fd, IPPROTO_TCP, TCP_KEEPCNT);
	strncat(line, part, sizeof line - strlen(line) - 1);
	option(part, sizeof part, "user_timeout", fd, IPPROTO_TCP, TCP_USER_TIMEOUT);
	strncat(line, part, sizeof line - strlen(line) - 1);
	printf("%s\n", line);
	fflush(stdout);
}

static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return address;
}

static int tcp_socket(int protocol)
{
	int fd = socket(AF_INET, SOCK_STREAM, protocol);
	if (fd < 0)
		die("socket");
	return fd;
}

static void finish_connect(int fd, int port, const char *host)
{
	struct sockaddr_in address = loopback(port);
	if (host != NULL && inet_pton(AF_INET, host, &address.sin_addr) != 1)
		die("address");
	if (connect(fd, (struct sockaddr *)&address, sizeof address) != 0)
		die("connect");
}

static int listen_on_loopback(int protocol)
{
	int fd = socket(AF_INET, SOCK_STREAM, protocol);
	if (fd < 0)
		die("socket");
	struct sockaddr_in address = loopback(0);
	socklen_t length = sizeof address;
	if (bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 4) != 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &length) != 0)
		die("listen");
	printf("port %d\n", ntohs(address.sin_port));
	fflush(stdout);
	return fd;
}

static void hold_until_stdin_closes(void)
{
	char buffer[64];
	while (read(STDIN_FILENO, buffer, sizeof buffer) > 0) {
	}
}

/* setsockopt(), printing "<label> rc=R[ errno=E]" and then the options. */
static void try_set(int fd, const char *label, int level, int optname, const void *value, socklen_t length)
{
	char text[128];
	int rc = setsockopt(fd, level, optname, value, length);
	if (rc == 0)
		snprintf(text, sizeof text, "%s rc=0", label);
	else
		snprintf(text, sizeof text, "%s rc=-1 errno=%s", label, strerrorname_np(errno));
	print_options(text, fd);
}

static void set_int(int fd, const char *label, int level, int optname, int value)
{
	try_set(fd, label, level, optname, &value, sizeof value);
}

static void enforce(int port)
{
	int fd = tcp_socket(IPPROTO_TCP);
	finish_connect(fd, port, NULL);
	print_options("connected", fd);
	/* Each of these would loosen what tcpkeep configured. */
	set_int(fd, "loosen-idle-600", IPPROTO_TCP, TCP_KEEPIDLE, 600);
	set_int(fd, "loosen-keepalive-0", SOL_SOCKET, SO_KEEPALIVE, 0);
	set_int(fd, "loosen-interval-600", IPPROTO_TCP, TCP_KEEPINTVL, 600);
	set_int(fd, "loosen-count-100", IPPROTO_TCP, TCP_KEEPCNT, 100);
	set_int(fd, "loosen-user-timeout-0", IPPROTO_TCP, TCP_USER_TIMEOUT, 0);
	set_int(fd, "loosen-user-timeout-99999", IPPROTO_TCP, TCP_USER_TIMEOUT, 99999);
	/* A stricter value is the program's to keep. */
	set_int(fd, "stricter-idle-5", IPPROTO_TCP, TCP_KEEPIDLE, 5);
	/* Out of the kernel's range: still refused. */
	set_int(fd, "range-idle-40000", IPPROTO_TCP, TCP_KEEPIDLE, 40000);
	set_int(fd, "range-count-0", IPPROTO_TCP, TCP_KEEPCNT, 0);
	set_int(fd, "range-user-timeout--1", IPPROTO_TCP, TCP_USER_TIMEOUT, -1);
	/* A buffer larger than a page: the program sees only its first page. */
	static int big[4096];
	big[0] = 600;
	try_set(fd, "bigbuf-idle-600", IPPROTO_TCP, TCP_KEEPIDLE, big, sizeof big);
	big[0] = 1 << 16;
	try_set(fd, "bigbuf-rcvbuf", SOL_SOCKET, SO_RCVBUF, big, sizeof big);
	/* Too short for an int: the kernel's EINVAL, untouched. */
	short small = 0;
	try_set(fd, "short-keepalive", SOL_SOCKET, SO_KEEPALIVE, &small, sizeof small);
	/* Not TCP: untouched. */
	int udp = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1, zero = 0;
	setsockopt(udp, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	setsockopt(udp, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero);
	int value = -1;
	socklen_t length = sizeof value;
	getsockopt(udp, SOL_SOCKET, SO_KEEPALIVE, &value, &length);
	printf("udp keepalive=%d\n", value);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[1], "connect") == 0) {
		int port = atoi(argv[2]);
		int fd = tcp_socket(IPPROTO_TCP);
		if (argc >= 4) {
			int one = 1, idle = atoi(argv[3]);
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
			setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
		}
		finish_connect(fd, port, NULL);
		print_options("connected", fd);
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "enforce") == 0) {
		enforce(atoi(argv[2]));
		return 0;
	}
	if (argc >= 2 && (strcmp(argv[1], "serve") == 0 || strcmp(argv[1], "mptcp-serve") == 0)) {
		int mptcp = argv[1][0] == 'm';
		int listener = listen_on_loopback(mptcp ? IPPROTO_MPTCP : IPPROTO_TCP);
		int fd = accept(listener, NULL, NULL);
		if (fd < 0)
			die("accept");
		print_options("accepted", fd);
		if (mptcp)
			hold_until_stdin_closes();
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "mptcp-loosen") == 0) {
		int port = atoi(argv[2]);
		int fd = tcp_socket(IPPROTO_MPTCP);
		finish_connect(fd, port, NULL);
		int zero = 0, idle = 600;
		if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &zero, sizeof zero) != 0)
			die("setsockopt SO_KEEPALIVE");
		if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) != 0)
			die("setsockopt TCP_KEEPIDLE");
		print_options("loosened", fd);
		hold_until_stdin_closes();
		return 0;
	}
	if (argc >= 3 && strcmp(argv[1], "mptcp-connect") == 0) {
		int port = atoi(argv[2]);
		int fd = tcp_socket(IPPROTO_MPTCP);
		finish_connect(fd, port, argc >= 4 ? argv[3] : NULL);
		print_options("connected", fd);
		hold_until_stdin_closes();
		return 0;
	}
	fprintf(stderr, "usage: probe connect PORT [OWN_IDLE] | enforce PORT | serve | mptcp-connect PORT [HOST] | mptcp-loosen PORT | mptcp-serve\n");
	return 2;
}
