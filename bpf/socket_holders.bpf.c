/*
 * The socket holders iterator: for every open descriptor of every process
 * that is a socket, one record (socket_holders.h) of its inode, the process
 * and the descriptor.  tcpkeep audit maps the sockets it reads to processes
 * with it, instead of reading every /proc/PID/fd link (about 0.5 us a
 * descriptor against about 4.7 us, measured on Linux 6.18).
 *
 * Built by bpf/build, which holds the compiler's flags.
 *
 * A task_file iterator (Linux 5.8) visits each file once per process: threads
 * that share their leader's file table are skipped.  bpf_sock_from_file()
 * (Linux 5.11) tells sockets from other files.  All sockets are written, TCP
 * or not: the audit keeps those whose inode it read.
 *
 * The three kernel fields it reads are declared with preserve_access_index:
 * libbpf finds their offsets in the running kernel's BTF when it loads the
 * program (CO-RE), as it finds the iterator's attach point there.
 */
#include "tcpkeep_bpf.h"
#include "socket_holders.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct task_struct {
	int tgid;
} __attribute__((preserve_access_index));

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

/* The iterator's context: the arguments of the kernel's bpf_iter_task_file(),
 * eight bytes each, unchanged since Linux 5.8; seq is bpf_iter_meta's first. */
struct bpf_iter_meta {
	struct seq_file *seq;
};

struct bpf_iter__task_file {
	struct bpf_iter_meta *meta;
	struct task_struct *task;
	__u32 fd;
	struct file *file;
};

SEC("iter/task_file")
int tcpkeep_holders(struct bpf_iter__task_file *context)
{
	struct file *file = context->file;
	struct task_struct *task = context->task;
	if (file == NULL || task == NULL || bpf_sock_from_file(file) == NULL)
		return 0;
	struct inode *inode = file->f_inode;
	if (inode == NULL)
		return 0;
	struct tcpkeep_socket_holder_record record = {
		.inode = inode->i_ino,
		.pid = (__u32)task->tgid,
		.fd = context->fd,
	};
	bpf_seq_write(context->meta->seq, &record, sizeof record);
	return 0;
}
