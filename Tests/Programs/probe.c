/*
 * A program for the shim's tests: it creates sockets the way applications do
 * and prints what getsockopt reads back, one line of key=value pairs per
 * socket.  It never sets keepalive itself unless told to (`setopts`).
 *
 *   probe matrix               every family x type x flags x protocol combination
 *   probe tcp                  one AF_INET stream socket
 *   probe accept 4|6           listener, client and accepted sockets on loopback
 *   probe threads N M          N threads each creating M sockets at once
 *   probe fork                 a socket in a forked child
 *   probe setopts tcp|udp NAME=VALUE...   set options in order, read each back
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

/* Any value the real socket() never sets: a successful call must leave it in place. */
#define ERRNO_SENTINEL 4242

static void print_option(int fd, const char *name, int level, int option)
{
	int value;
	socklen_t length = sizeof value;
	if (getsockopt(fd, level, option, &value, &length) == 0)
		printf(" %s=%d", name, value);
	else
		printf(" %s=-", name);
}

static void print_options(int fd)
{
	print_option(fd, "keepalive", SOL_SOCKET, SO_KEEPALIVE);
	print_option(fd, "idle", IPPROTO_TCP, TCP_KEEPIDLE);
	print_option(fd, "intvl", IPPROTO_TCP, TCP_KEEPINTVL);
	print_option(fd, "cnt", IPPROTO_TCP, TCP_KEEPCNT);
	print_option(fd, "user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT);
}

/* Creates a socket with errno preset to the sentinel and reports both. */
static int create(const char *label, int domain, int type, int protocol)
{
	errno = ERRNO_SENTINEL;
	int fd = socket(domain, type, protocol);
	int after = errno;
	printf("%s domain=%d type=%d protocol=%d", label, domain, type, protocol);
	if (fd < 0) {
		printf(" result=error errno=%d\n", after);
		return -1;
	}
	printf(" result=ok errno=%d", after);
	print_options(fd);
	printf("\n");
	return fd;
}

static int matrix(void)
{
	static const int domains[] = {AF_INET, AF_INET6, AF_UNIX};
	static const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_RAW, SOCK_SEQPACKET};
	static const int flags[] = {0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC};
	static const int protocols[] = {0, IPPROTO_TCP, IPPROTO_MPTCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_SCTP};
#define COUNT(array) (sizeof array / sizeof array[0])
	for (size_t d = 0; d < COUNT(domains); d++)
		for (size_t t = 0; t < COUNT(types); t++)
			for (size_t f = 0; f < COUNT(flags); f++)
				for (size_t p = 0; p < COUNT(protocols); p++) {
					int fd = create("socket", domains[d], types[t] | flags[f], protocols[p]);
					if (fd >= 0)
						close(fd);
				}
	return 0;
}

static void report(const char *label, int fd)
{
	printf("%s", label);
	print_options(fd);
	printf("\n");
}

static int accept_on_loopback(int family)
{
	struct sockaddr_storage address = {0};
	socklen_t length;
	if (family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&address;
		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		length = sizeof *in;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&address;
		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		length = sizeof *in6;
	}
	int domain = family == 4 ? AF_INET : AF_INET6;
	int listener = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, length) != 0 || listen(listener, 4) != 0 ||
	    getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
		perror("probe: listen");
		return 1;
	}
	int client = socket(domain, SOCK_STREAM, IPPROTO_TCP);
	if (client < 0 || connect(client, (struct sockaddr *)&address, length) != 0) {
		perror("probe: connect");
		return 1;
	}
	int accepted = accept(listener, NULL, NULL);
	int accepted4 = -1;
	int second = socket(domain, SOCK_STREAM, 0);
	if (second >= 0 && connect(second, (struct sockaddr *)&address, length) == 0)
		accepted4 = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (accepted < 0 || accepted4 < 0) {
		perror("probe: accept");
		return 1;
	}
	report("listener", listener);
	report("client", client);
	report("accepted", accepted);
	report("accepted4", accepted4);
	close(accepted4);
	close(second);
	close(accepted);
	close(client);
	close(listener);
	return 0;
}

struct thread_work {
	int sockets;
	int without_keepalive;
	int errno_changed;
};

static void *create_many(void *argument)
{
	struct thread_work *work = argument;
	for (int i = 0; i < work->sockets; i++) {
		errno = ERRNO_SENTINEL;
		int fd = socket(i % 2 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (errno != ERRNO_SENTINEL)
			work->errno_changed++;
		int on = 0;
		socklen_t length = sizeof on;
		if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, &length) != 0 || !on)
			work->without_keepalive++;
		if (fd >= 0)
			close(fd);
	}
	return NULL;
}

static int threads(int count, int sockets)
{
	pthread_t ids[64];
	struct thread_work work[64] = {{0}};
	if (count < 1 || count > 64)
		return 2;
	for (int i = 0; i < count; i++) {
		work[i].sockets = sockets;
		if (pthread_create(&ids[i], NULL, create_many, &work[i]) != 0)
			return 1;
	}
	int without_keepalive = 0, errno_changed = 0;
	for (int i = 0; i < count; i++) {
		pthread_join(ids[i], NULL);
		without_keepalive += work[i].without_keepalive;
		errno_changed += work[i].errno_changed;
	}
	printf("threads sockets=%d without_keepalive=%d errno_changed=%d\n", count * sockets, without_keepalive,
	       errno_changed);
	return 0;
}

static int forked(void)
{
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		int fd = create("child", AF_INET6, SOCK_STREAM, 0);
		fflush(stdout);
		_exit(fd < 0);
	}
	int status;
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	int fd = create("parent", AF_INET, SOCK_STREAM, 0);
	return fd < 0;
}

struct named_option {
	const char *name;
	int level, option;
};

static const struct named_option named_options[] = {
	{"keepalive", SOL_SOCKET, SO_KEEPALIVE},   {"idle", IPPROTO_TCP, TCP_KEEPIDLE},
	{"intvl", IPPROTO_TCP, TCP_KEEPINTVL},     {"cnt", IPPROTO_TCP, TCP_KEEPCNT},
	{"user_timeout", IPPROTO_TCP, TCP_USER_TIMEOUT},
};

static int set_options(const char *kind, int count, char **assignments)
{
	int udp = strcmp(kind, "udp") == 0;
	int fd = socket(AF_INET, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0)
		return 1;
	for (int i = 0; i < count; i++) {
		const char *equals = strchr(assignments[i], '=');
		const struct named_option *found = NULL;
		for (size_t n = 0; equals && n < sizeof named_options / sizeof named_options[0]; n++)
			if (strncmp(assignments[i], named_options[n].name, (size_t)(equals - assignments[i])) == 0 &&
			    named_options[n].name[equals - assignments[i]] == '\0')
				found = &named_options[n];
		if (found == NULL) {
			fprintf(stderr, "probe: unknown option %s\n", assignments[i]);
			return 2;
		}
		int value = atoi(equals + 1);
		errno = 0;
		int result = setsockopt(fd, found->level, found->option, &value, sizeof value);
		int error = errno;
		int now = -1;
		socklen_t length = sizeof now;
		getsockopt(fd, found->level, found->option, &now, &length);
		printf("set option=%s requested=%d result=%d errno=%d value=%d\n", found->name, value, result,
		       result == 0 ? 0 : error, now);
	}
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *command = argc > 1 ? argv[1] : "";
	if (strcmp(command, "matrix") == 0)
		return matrix();
	if (strcmp(command, "tcp") == 0)
		return create("socket", AF_INET, SOCK_STREAM, 0) < 0;
	if (strcmp(command, "accept") == 0 && argc == 3)
		return accept_on_loopback(atoi(argv[2]));
	if (strcmp(command, "threads") == 0 && argc == 4)
		return threads(atoi(argv[2]), atoi(argv[3]));
	if (strcmp(command, "fork") == 0)
		return forked();
	if (strcmp(command, "setopts") == 0 && argc >= 3)
		return set_options(argv[2], argc - 3, argv + 3);
	fprintf(stderr, "usage: probe matrix|tcp|accept 4|6|threads N M|fork|setopts tcp|udp NAME=VALUE...\n");
	return 2;
}
