#define _GNU_SOURCE
#include "CLinux.h"

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
