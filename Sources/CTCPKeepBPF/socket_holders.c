/*
 * The socket holders iterator's loader (bpf/socket_holders.bpf.c): which
 * process holds which socket, for tcpkeep audit.  The API is in
 * include/CTCPKeepBPF.h.  libbpf opens the object, relocates the fields the
 * program reads to the running kernel's BTF (CO-RE), finds the iterator there
 * and loads the program, as it does kernel mode's.
 */
#define _GNU_SOURCE
#include "CTCPKeepBPF.h"

#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../bpf/socket_holders.h"
#include "internal.h"

_Static_assert(sizeof(struct tcpkeep_bpf_socket_holder) == sizeof(struct tcpkeep_socket_holder_record) &&
		       offsetof(struct tcpkeep_bpf_socket_holder, inode) ==
			       offsetof(struct tcpkeep_socket_holder_record, inode) &&
		       offsetof(struct tcpkeep_bpf_socket_holder, pid) ==
			       offsetof(struct tcpkeep_socket_holder_record, pid) &&
		       offsetof(struct tcpkeep_bpf_socket_holder, fd) == offsetof(struct tcpkeep_socket_holder_record, fd),
	       "the public record is the program's");

#define PROGRAM_NAME "tcpkeep_holders"
/* The inode number of the initial PID namespace (PROC_PID_INIT_INO). */
#define INITIAL_PID_NAMESPACE 0xEFFFFFFCu

int tcpkeep_bpf_open_socket_holders(struct tcpkeep_bpf_object embedded, char *error, size_t size)
{
	int held = holds_capabilities(CAPABILITY(CAP_BPF) | CAPABILITY(CAP_PERFMON), error, size);
	if (held <= 0)
		return held < 0 ? -1
				: refuse(error, size, EPERM,
					 "not privileged (it needs root, or CAP_BPF and CAP_PERFMON)");
	struct stat namespace;
	if (stat("/proc/self/ns/pid", &namespace) != 0)
		return fail(error, size, errno, "reading this process's PID namespace");
	if (namespace.st_ino != INITIAL_PID_NAMESPACE)
		return refuse(error, size, EOPNOTSUPP,
			      "this process runs in a PID namespace of its own, and the iterator gives the host's PIDs");
	if (open_libbpf("the socket holders iterator", error, size) != 0)
		return -1;

	libbpf_print_fn_t previous = capture_libbpf(0);
	struct bpf_link *link = NULL;
	int iterator = -1;
	struct bpf_object *object = libbpf.bpf_object__open_mem(embedded.bytes, embedded.size, NULL);
	struct bpf_program *program = object ? libbpf.bpf_object__find_program_by_name(object, PROGRAM_NAME) : NULL;
	if (program == NULL) {
		fail(error, size, errno ? errno : ENOENT, "opening the embedded socket holders object");
	} else if (libbpf.bpf_object__load(object) != 0) {
		fail(error, size, errno,
		     "loading the socket holders iterator (it needs the kernel's BTF, the task_file iterator of "
		     "Linux 5.8 and bpf_sock_from_file of Linux 5.11)");
	} else if ((link = libbpf.bpf_program__attach_iter(program, NULL)) == NULL) {
		fail(error, size, errno, "attaching the socket holders iterator");
	} else if ((iterator = libbpf.bpf_iter_create(libbpf.bpf_link__fd(link))) < 0) {
		fail(error, size, errno, "creating the socket holders iterator");
	}
	/* The iterator's descriptor holds the link, and the link the program:
	 * closing these leaves nothing loaded once the iterator is closed. */
	int saved = errno;
	if (link != NULL)
		libbpf.bpf_link__destroy(link);
	libbpf.bpf_object__close(object);
	release_libbpf(previous);
	errno = saved;
	return iterator;
}
