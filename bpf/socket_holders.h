/*
 * What the socket holders iterator (bpf/socket_holders.bpf.c) writes, and the
 * placeholders its loader (Sources/CTCPKeepBPF/socket_holders.c) replaces.
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

/* Field offsets the program reads at, written in its instructions as these
 * placeholders: the loader finds the real offsets in the running kernel's BTF
 * and writes them over each load instruction whose offset is a placeholder.
 * No structure in the kernel is this large where these fields are, so no real
 * offset is mistaken for one. */
#define TCPKEEP_HOLDER_PLACEHOLDERS 0x7e00 /* every placeholder is above it, every real offset below */
#define TCPKEEP_HOLDER_TASK_TGID 0x7e01  /* struct task_struct, tgid (pid_t) */
#define TCPKEEP_HOLDER_FILE_INODE 0x7e02 /* struct file, f_inode (struct inode *) */
#define TCPKEEP_HOLDER_INODE_INO 0x7e03  /* struct inode, i_ino (unsigned long) */

#endif
