#ifndef TCPKEEP_SOCK_DIAG_H
#define TCPKEEP_SOCK_DIAG_H

/* TCP sockets read with NETLINK_SOCK_DIAG (inet_diag), the way `ss` reads them. The kernel
 * filters by state and by port, so only the sockets asked for are copied out; it still walks
 * the whole socket table (measured here: 40,000 sockets in about 35 ms, 20 of them picked by
 * port out of the same 40,000 in about 11 ms; /proc/net/tcp and tcp6 took about 100 ms).
 *
 * A sock_diag netlink socket reports the sockets of the network namespace it was created in,
 * whatever namespace the thread that reads it is in later.
 *
 * errno: every function that fails returns -1 with errno set by the call that failed (or
 * EINVAL, EPROTO, EMSGSIZE as stated), captured before any clean-up. A function that succeeds
 * leaves errno as it found it. Each function is safe to call from several threads at once;
 * one diag socket must be used by one thread at a time. Nothing here allocates per socket.
 *
 * The header needs nothing but <stdint.h> and <stddef.h>, and every name in it starts with
 * tcpkeep_diag_ or TCPKEEP_DIAG_, so it shares nothing with CLinux.h. Note for Swift: include/
 * has a header named after the module (CLinux.h), so SwiftPM makes that the module's umbrella
 * header, not the directory: Swift sees this header once CLinux.h has
 * `#include "sock_diag.h"` (or once include/module.modulemap lists both headers). */

#include <stddef.h>
#include <stdint.h>

/* ---- Opening a diag socket ---------------------------------------------------------------- */

/* The step of opening a diag socket that failed. */
enum tcpkeep_diag_step {
	TCPKEEP_DIAG_STEP_NONE = 0,
	/* open(2) of a namespace path (tcpkeep_diag_open_netns_path only). */
	TCPKEEP_DIAG_STEP_OPEN = 1,
	/* pthread_create(3), pthread_join(3) or pthread_sigmask(3): errno is their result. */
	TCPKEEP_DIAG_STEP_THREAD = 2,
	/* setns(2): EINVAL when the fd is not a network namespace, EPERM without CAP_SYS_ADMIN
	 * over that namespace's user namespace, EBADF for a bad fd. */
	TCPKEEP_DIAG_STEP_SETNS = 3,
	/* socket(2) of the netlink socket: EPROTONOSUPPORT without sock_diag in the kernel,
	 * EMFILE / ENFILE / ENOMEM. */
	TCPKEEP_DIAG_STEP_SOCKET = 4,
};

/* A sock_diag socket (AF_NETLINK, NETLINK_SOCK_DIAG, close-on-exec) in the calling thread's
 * network namespace. Returns the fd, or -1 with errno from socket(2). Close it with close(2). */
int tcpkeep_diag_open(void);

/* A sock_diag socket in the network namespace `netns_fd` refers to (an fd of /proc/PID/ns/net
 * or /run/netns/NAME). A short-lived thread, with every signal blocked, enters the namespace
 * with setns(fd, CLONE_NEWNET), creates the socket and exits; the calling thread never changes
 * namespace. Needs CAP_SYS_ADMIN over the namespace (root). Returns the fd, or -1 with errno
 * from the failing call and *failed (when not NULL) naming the step; *failed is
 * TCPKEEP_DIAG_STEP_NONE on success. netns_fd stays open: the caller closes it. */
int tcpkeep_diag_open_in_netns(int netns_fd, enum tcpkeep_diag_step *failed);

/* The same, given the namespace's path: opens it (O_RDONLY | O_CLOEXEC), then as above.
 * An open(2) failure is TCPKEEP_DIAG_STEP_OPEN. */
int tcpkeep_diag_open_netns_path(const char *path, enum tcpkeep_diag_step *failed);

/* ---- What a dump reports ------------------------------------------------------------------ */

/* Address families for tcpkeep_diag_dump's `families` (bits, not AF_ values). */
#define TCPKEEP_DIAG_IPV4 1u /* sockets of family AF_INET: /proc/net/tcp */
#define TCPKEEP_DIAG_IPV6 2u /* sockets of family AF_INET6, IPv4-mapped ones included: tcp6 */

/* TCP states (include/net/tcp_states.h), the values of /proc/net/tcp's `st` column. */
enum tcpkeep_diag_state {
	TCPKEEP_DIAG_ESTABLISHED = 1,
	TCPKEEP_DIAG_SYN_SENT = 2,
	TCPKEEP_DIAG_SYN_RECV = 3, /* also answers for request sockets (NEW_SYN_RECV, 12) */
	TCPKEEP_DIAG_FIN_WAIT1 = 4,
	TCPKEEP_DIAG_FIN_WAIT2 = 5,
	TCPKEEP_DIAG_TIME_WAIT = 6,
	TCPKEEP_DIAG_CLOSE = 7,
	TCPKEEP_DIAG_CLOSE_WAIT = 8,
	TCPKEEP_DIAG_LAST_ACK = 9,
	TCPKEEP_DIAG_LISTEN = 10,
	TCPKEEP_DIAG_CLOSING = 11,
};

/* A state mask for tcpkeep_diag_dump: TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED) | ... */
#define TCPKEEP_DIAG_STATE(state) (1u << (state))
/* Every state /proc/net/tcp lists (1..12). Bit 13 (TCP_BOUND_INACTIVE) is left out: with it
 * recent kernels also report sockets that are bound but neither listening nor connected, as
 * state 7 (CLOSE), which /proc does not list (measured on 6.18). */
#define TCPKEEP_DIAG_ALL_STATES 0x1ffeu

/* Timer codes, as /proc/net/tcp's `tr` column. When several timers are pending the kernel
 * names one: retransmit beats zero-window probe beats keepalive. */
enum tcpkeep_diag_timer {
	TCPKEEP_DIAG_TIMER_NONE = 0,
	TCPKEEP_DIAG_TIMER_RETRANSMIT = 1,     /* also loss probe, reordering; SYN-ACK of a request */
	TCPKEEP_DIAG_TIMER_KEEPALIVE = 2,      /* in FIN_WAIT2 the same timer is the FIN_WAIT2 timer */
	TCPKEEP_DIAG_TIMER_TIME_WAIT = 3,
	TCPKEEP_DIAG_TIMER_ZERO_WINDOW = 4,    /* zero-window probe */
};

/* One socket: inet_diag_msg decoded, with idiag_retrans split into what /proc calls it.
 * How each field maps to /proc/net/tcp and tcp6 (measured on Linux 6.18 by
 * Tests/Programs/sock_diag_check.c, and as net/ipv4/inet_diag.c and tcp_ipv4.c fill them):
 *
 *   field        inet_diag             /proc/net/tcp(6)   same value?
 *   family       idiag_family          which file         tcp = AF_INET, tcp6 = AF_INET6
 *   state        idiag_state           st                 yes; a TIME_WAIT entry gives its substate
 *                                                         in both (6, or 5 for an orphan FIN_WAIT2);
 *                                                         a request socket is 3 (SYN_RECV) in both
 *   timer        idiag_timer           tr                 yes (the same icsk_pending test)
 *   expires_ms   idiag_expires, ms     tm->when, 1/100 s  ticks = expires_ms / 10 (both clamp an
 *                                                         overdue timer to 0; read at another time)
 *   retrans      idiag_retrans         (see the next two)
 *   retransmits  retrans if timer 1    retrnsmt           timer 1 on a full socket: both
 *                else 0                                   icsk_retransmits. Request socket: netlink
 *                                                         counts every SYN-ACK resent (num_retrans,
 *                                                         answers to repeated SYNs too), /proc the
 *                                                         timer's expiries (num_timeout): 3 vs 1
 *                                                         measured. Other timers: netlink has none,
 *                                                         /proc shows icsk_retransmits (0 once acked)
 *   probes       retrans if timer 2    timeout            timer 2 or 4: both icsk_probes_out. Timer
 *                or 4, else 0                             1: netlink has none, /proc still shows the
 *                                                         probes sent before data went unacked
 *                                                         (4 measured); timer 0, 3: 0 in both
 *   rqueue       idiag_rqueue          rx_queue           yes (LISTEN: accept queue length)
 *   wqueue       idiag_wqueue          tx_queue           yes, but LISTEN: netlink gives the backlog
 *                                                         limit, /proc 0 (Linux 6.18)
 *   uid          idiag_uid             uid                yes; TIME_WAIT 0 in both; a request socket
 *                                                         0 here, the listener's uid in /proc
 *   inode        idiag_inode (u32)     inode              yes; 0 for TIME_WAIT and request sockets
 *   src, sport   id.idiag_src, sport   local_address      yes (see src below for IPv4)
 *   dst, dport   id.idiag_dst, dport   rem_address        yes
 *   cookie       id.idiag_cookie       -                  getsockopt(SO_COOKIE)
 *   cgroup_id    INET_DIAG_CGROUP_ID   -                  the cgroup v2 directory's inode
 *
 * The audit's verdicts only read `probes` with timer 2 (probing) and otherwise the state and
 * the timer, so a SocketRecord built from either source gets the same verdict: ok, missing,
 * probing and unknown all came out equal in the check, blackholed peer included. */
struct tcpkeep_diag_socket {
	/* Local and remote address, 16 bytes in network order, always in IPv6 form: an AF_INET
	 * socket's address is given IPv4-mapped (::ffff:a.b.c.d), as is an AF_INET6 socket's that
	 * talks IPv4 (the kernel already stores it so). `family` tells the two apart. */
	uint8_t src[16];
	uint8_t dst[16];
	uint64_t cookie;    /* the kernel's socket cookie (SO_COOKIE) */
	uint64_t cgroup_id; /* cgroup v2 id (the cgroup directory's inode); 0 when not sent */
	uint32_t expires_ms;
	uint32_t rqueue;
	uint32_t wqueue;
	uint32_t uid;
	uint32_t inode;
	uint32_t ifindex; /* SO_BINDTODEVICE interface, 0 for none */
	uint32_t retransmits;
	uint32_t probes;
	uint16_t sport; /* host order */
	uint16_t dport; /* host order; 0 for LISTEN */
	uint8_t family; /* AF_INET (2) or AF_INET6 (10) */
	uint8_t state;  /* enum tcpkeep_diag_state */
	uint8_t timer;  /* enum tcpkeep_diag_timer */
	uint8_t retrans; /* idiag_retrans as sent */
};

/* Called once per socket. `socket` is valid only during the call. Return 0 to go on, nonzero
 * to stop the dump: the rest of the kernel's answer is then read and dropped (so that the diag
 * socket can be used again) and tcpkeep_diag_dump returns 1. */
typedef int (*tcpkeep_diag_callback)(const struct tcpkeep_diag_socket *socket, void *context);

/* An inclusive port range; a single port is {port, port}. */
struct tcpkeep_diag_port_range {
	uint16_t first;
	uint16_t last;
};

/* The most ranges one dump accepts (the kernel's bytecode offsets are 16 bits). */
#define TCPKEEP_DIAG_MAX_PORT_RANGES 256

/* Dumps the TCP sockets of diag_fd's network namespace, IPv4 first, then IPv6 (per
 * `families`), whose state is in `states` (a TCPKEEP_DIAG_STATE mask sent to the kernel as
 * idiag_states) and, when range_count > 0, whose local OR remote port lies in any of `ranges`
 * (an inet_diag bytecode filter the kernel runs). A LISTEN socket's remote port is 0, so a
 * range containing 0 matches every listener. Overlapping ranges are fine.
 *
 * One receive buffer is allocated per call (64 KiB), nothing per socket; records go to
 * `callback` as they are read. Datagrams that do not come from the kernel (netlink port 0),
 * and messages of another request's sequence number, are skipped: another root process can
 * send to this socket. Like /proc, a dump is no snapshot: a socket opened or closed while it
 * runs may be missed, or seen twice in two states (ESTABLISHED, then TIME_WAIT).
 *
 * Returns 0 once the kernel has sent everything, 1 when the callback stopped the dump, and -1
 * with errno on failure:
 *   EINVAL     no family, an empty state mask, first > last in a range, a NULL callback,
 *              or the kernel refused the request or its filter
 *   E2BIG      more than TCPKEEP_DIAG_MAX_PORT_RANGES ranges
 *   ENOMEM     the buffer could not be allocated
 *   EPROTO     a message shorter than its header says or than an inet_diag_msg
 *   EMSGSIZE   a datagram larger than the buffer (MSG_TRUNC)
 *   other      from sendto(2) or recvmsg(2) (EINTR is retried), or the kernel's error for the dump
 * After a -1 the socket may still hold part of an answer: close it and open another. */
int tcpkeep_diag_dump(int diag_fd, unsigned families, uint32_t states, const struct tcpkeep_diag_port_range *ranges,
		      size_t range_count, tcpkeep_diag_callback callback, void *context);

#endif
