#define _GNU_SOURCE
#include "CLinux.h"

#include <errno.h>
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
	if (read_option(fd, SOL_SOCKET, SO_KEEPALIVE, &options->keepalive) != 0)
		return -1;
	for (int i = 0; i < TCPKEEP_OPTION_COUNT; i++)
		if (read_option(fd, tcpkeep_option_specs[i].level, tcpkeep_option_specs[i].optname, &options->values[i]) != 0)
			return -1;
	return 0;
}

static int write_option(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof value);
}

int tcpkeep_write_keepalive_options(int fd, const struct tcpkeep_keepalive_options *options, const char **failed)
{
	/* Every option is tried, so that one the kernel refuses (TCP_USER_TIMEOUT on MPTCP)
	 * does not leave keepalive itself off; the first failure is the one reported. */
	int first_error = 0;
	for (int i = 0; i < TCPKEEP_OPTION_COUNT; i++) {
		const struct tcpkeep_option_spec *spec = &tcpkeep_option_specs[i];
		if (options->values[i] != -1 && write_option(fd, spec->level, spec->optname, options->values[i]) != 0 &&
		    first_error == 0) {
			first_error = errno;
			*failed = spec->name;
		}
	}
	if (options->keepalive != -1 && write_option(fd, SOL_SOCKET, SO_KEEPALIVE, options->keepalive) != 0 &&
	    first_error == 0) {
		first_error = errno;
		*failed = "SO_KEEPALIVE";
	}
	errno = first_error;
	return first_error == 0 ? 0 : -1;
}

int tcpkeep_is_tcp_socket(int fd)
{
	int domain, type, protocol;
	if (read_option(fd, SOL_SOCKET, SO_DOMAIN, &domain) != 0 || read_option(fd, SOL_SOCKET, SO_TYPE, &type) != 0 ||
	    read_option(fd, SOL_SOCKET, SO_PROTOCOL, &protocol) != 0)
		return errno == ENOTSOCK ? 0 : -1;
	return (domain == AF_INET || domain == AF_INET6) && type == SOCK_STREAM &&
	       (protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP);
}
