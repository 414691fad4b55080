#ifndef TCPKEEP_OPTIONS_H
#define TCPKEEP_OPTIONS_H

/* The keepalive options tcpkeep sets, in one table for the preload shim, the C helpers and
 * (through a test that compares them) the Swift side: each option's socket level and name, the
 * kernel's accepted range (include/net/tcp.h, do_tcp_setsockopt) and the environment variable
 * that configures it. The variable names are libkeepalive's, so its configurations keep working. */

#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

struct tcpkeep_option_spec {
	const char *name;     /* the socket option, for messages */
	int level;
	int optname;
	const char *variable; /* the environment variable */
	const char *unit;     /* what a value counts, for messages */
	int min, max;
};

enum tcpkeep_option_index {
	TCPKEEP_OPTION_KEEPIDLE,
	TCPKEEP_OPTION_KEEPINTVL,
	TCPKEEP_OPTION_KEEPCNT,
	TCPKEEP_OPTION_USER_TIMEOUT,
	TCPKEEP_OPTION_COUNT
};

static const struct tcpkeep_option_spec tcpkeep_option_specs[TCPKEEP_OPTION_COUNT] = {
	[TCPKEEP_OPTION_KEEPIDLE] = {"TCP_KEEPIDLE", IPPROTO_TCP, TCP_KEEPIDLE, "KEEPIDLE", "seconds", 1, 32767},
	[TCPKEEP_OPTION_KEEPINTVL] = {"TCP_KEEPINTVL", IPPROTO_TCP, TCP_KEEPINTVL, "KEEPINTVL", "seconds", 1, 32767},
	[TCPKEEP_OPTION_KEEPCNT] = {"TCP_KEEPCNT", IPPROTO_TCP, TCP_KEEPCNT, "KEEPCNT", "probes", 1, 127},
	/* 0 is the system's default; there is no upper bound but the int's. */
	[TCPKEEP_OPTION_USER_TIMEOUT] = {"TCP_USER_TIMEOUT", IPPROTO_TCP, TCP_USER_TIMEOUT, "TCPKEEP_USER_TIMEOUT",
					 "milliseconds", 0, INT_MAX},
};

/* The switch that turns the shim off for every socket, and SO_KEEPALIVE itself. */
#define TCPKEEP_SWITCH_VARIABLE "KEEPALIVE"

#endif
