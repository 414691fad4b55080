#ifndef TCPKEEP_CLINUX_H
#define TCPKEEP_CLINUX_H

/* Linux calls Swift cannot make directly: syscall() is variadic, and the TCP option
 * constants are not all in Swift's Glibc module. */

struct tcpkeep_keepalive_options {
	int keepalive;
	int idle;
	int interval;
	int count;
	int user_timeout;
};

/* pidfd_open(2), Linux 5.3+. */
int tcpkeep_pidfd_open(int pid);

/* pidfd_getfd(2), Linux 5.6+: a duplicate of another process's descriptor. */
int tcpkeep_pidfd_getfd(int pidfd, int fd);

/* Reads SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT and TCP_USER_TIMEOUT;
 * 0 on success, -1 with errno set. */
int tcpkeep_read_keepalive_options(int fd, struct tcpkeep_keepalive_options *options);

#endif
