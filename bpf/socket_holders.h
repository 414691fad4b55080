/*
 * What the socket holders iterator (bpf/socket_holders.bpf.c) writes, and
 * its loader (Sources/CTCPKeepBPF/socket_holders.c) reads.
 */
#ifndef TCPKEEP_SOCKET_HOLDERS_H
#define TCPKEEP_SOCKET_HOLDERS_H

#include <linux/types.h>

/* One open descriptor that is a socket, as the iterator writes it. */
struct tcpkeep_socket_holder_record {
	__u64 inode; /* the socket's inode: sock_diag's idiag_inode, /proc/net/tcp's inode */
	__u32 pid;   /* the process (thread group) in the initial PID namespace */
	__u32 fd;    /* the descriptor in that process */
};

#endif
