#ifndef TCPKEEP_CLINUX_H
#define TCPKEEP_CLINUX_H

/* Linux calls Swift cannot make directly: syscall() is variadic, and the TCP option
 * constants are not all in Swift's Glibc module. */

#include "tcpkeep_options.h"
#include "sock_diag.h"
#include <sys/signalfd.h> /* signalfd(2) and its record, which Swift's Glibc module leaves out */

/* SO_KEEPALIVE, and the options of tcpkeep_option_specs by their index. */
struct tcpkeep_keepalive_options {
	int keepalive;
	int values[TCPKEEP_OPTION_COUNT];
};

/* pidfd_open(2), Linux 5.3+. */
int tcpkeep_pidfd_open(int pid);

/* pidfd_getfd(2), Linux 5.6+: a duplicate of another process's descriptor. */
int tcpkeep_pidfd_getfd(int pidfd, int fd);

/* Reads SO_KEEPALIVE and every option of the table; 0 on success, -1 with errno set. */
int tcpkeep_read_keepalive_options(int fd, struct tcpkeep_keepalive_options *options);

/* Sets each option of the table whose value is not -1, then SO_KEEPALIVE unless it is -1,
 * trying every one even after a failure. 0 on success, -1 with errno set and *failed naming
 * the first option that failed ("TCP_KEEPIDLE", ...). */
int tcpkeep_write_keepalive_options(int fd, const struct tcpkeep_keepalive_options *options, const char **failed);

/* 1 when fd is a TCP socket (AF_INET or AF_INET6, SOCK_STREAM, IPPROTO_TCP or IPPROTO_MPTCP),
 * judged by SO_DOMAIN, SO_TYPE and SO_PROTOCOL; 0 when it is another socket or no socket;
 * -1 with errno set on another error. */
int tcpkeep_is_tcp_socket(int fd);

#endif
