#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

int tcpkeep_pidfd_open(int pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

int tcpkeep_pidfd_getfd(int pidfd, int fd)
{
	return (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
}

static int read_option(int fd, int level, int name, int *value)
{
	socklen_t length = sizeof *value;
	return getsockopt(fd, level, name, value, &length);
}

int tcpkeep_read_keepalive_options(int fd, struct tcpkeep_keepalive_options *options)
{
	if (read_option(fd, SOL_SOCKET, SO_KEEPALIVE, &options->keepalive) != 0 ||
	    read_option(fd, IPPROTO_TCP, TCP_KEEPIDLE, &options->idle) != 0 ||
	    read_option(fd, IPPROTO_TCP, TCP_KEEPINTVL, &options->interval) != 0 ||
	    read_option(fd, IPPROTO_TCP, TCP_KEEPCNT, &options->count) != 0 ||
	    read_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &options->user_timeout) != 0)
		return -1;
	return 0;
}

static int write_option(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof value);
}

int tcpkeep_write_keepalive_options(int fd, const struct tcpkeep_keepalive_options *options, const char **failed)
{
	const struct {
		int level, name, value;
		const char *label;
	} steps[] = {
		{IPPROTO_TCP, TCP_KEEPIDLE, options->idle, "TCP_KEEPIDLE"},
		{IPPROTO_TCP, TCP_KEEPINTVL, options->interval, "TCP_KEEPINTVL"},
		{IPPROTO_TCP, TCP_KEEPCNT, options->count, "TCP_KEEPCNT"},
		{IPPROTO_TCP, TCP_USER_TIMEOUT, options->user_timeout, "TCP_USER_TIMEOUT"},
		{SOL_SOCKET, SO_KEEPALIVE, options->keepalive, "SO_KEEPALIVE"},
	};
	/* Every option is tried, so that one the kernel refuses (TCP_USER_TIMEOUT on MPTCP)
	 * does not leave keepalive itself off; the first failure is the one reported. */
	int first_error = 0;
	for (unsigned i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		if (steps[i].value == -1)
			continue;
		if (write_option(fd, steps[i].level, steps[i].name, steps[i].value) != 0 && first_error == 0) {
			first_error = errno;
			*failed = steps[i].label;
		}
	}
	errno = first_error;
	return first_error == 0 ? 0 : -1;
}

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

int tcpkeep_is_tcp_socket(int fd)
{
	int domain, type, protocol;
	if (read_option(fd, SOL_SOCKET, SO_DOMAIN, &domain) != 0 || read_option(fd, SOL_SOCKET, SO_TYPE, &type) != 0 ||
	    read_option(fd, SOL_SOCKET, SO_PROTOCOL, &protocol) != 0)
		return errno == ENOTSOCK ? 0 : -1;
	return (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM &&
	       (protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP);
}
