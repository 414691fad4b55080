/* NETLINK_SOCK_DIAG for TCP: see include/sock_diag.h. */
#define _GNU_SOURCE
#include "sock_diag.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The kernel builds dump datagrams of at most about 32 KiB (it sizes them by the largest
 * recvmsg seen, capped there); twice that leaves room, and a larger one is reported, not cut. */
#define RECEIVE_BUFFER_SIZE (64 * 1024)

/* Bytecode per range: S_GE, S_LE (8 bytes each with their port), JMP to accept (4), and the
 * same for the remote port; one JMP to reject at the end. */
#define BYTECODE_PER_RANGE (2 * (8 + 8 + 4))
#define BYTECODE_MAX (TCPKEEP_DIAG_MAX_PORT_RANGES * BYTECODE_PER_RANGE + 4)

struct dump_request {
	struct nlmsghdr header;
	struct inet_diag_req_v2 request;
};

_Static_assert(BYTECODE_MAX + NLA_HDRLEN <= 0xffff, "nla_len and the jump offsets are 16 bits");

/* ---- Opening ------------------------------------------------------------------------------- */

int tcpkeep_diag_open(void)
{
	int saved = errno;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd >= 0)
		errno = saved;
	return fd;
}

struct netns_job {
	int netns_fd;
	int result;
	int error;
	enum tcpkeep_diag_step step;
};

/* Runs on a thread of its own, which ends right after: its namespace goes with it. */
static void *open_in_netns_thread(void *argument)
{
	struct netns_job *job = argument;
	if (setns(job->netns_fd, CLONE_NEWNET) != 0) {
		job->error = errno;
		job->step = TCPKEEP_DIAG_STEP_SETNS;
		return NULL;
	}
	job->result = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (job->result < 0) {
		job->error = errno;
		job->step = TCPKEEP_DIAG_STEP_SOCKET;
	}
	return NULL;
}

static int fail_step(enum tcpkeep_diag_step *failed, enum tcpkeep_diag_step step, int error)
{
	if (failed)
		*failed = step;
	errno = error;
	return -1;
}

int tcpkeep_diag_open_in_netns(int netns_fd, enum tcpkeep_diag_step *failed)
{
	int saved = errno;
	struct netns_job job = {.netns_fd = netns_fd, .result = -1, .error = 0, .step = TCPKEEP_DIAG_STEP_NONE};

	/* The thread starts with every signal blocked, so that no handler of the process ever
	 * runs in the other namespace (and creates sockets there). */
	sigset_t all, previous;
	sigfillset(&all);
	int error = pthread_sigmask(SIG_SETMASK, &all, &previous);
	if (error != 0)
		return fail_step(failed, TCPKEEP_DIAG_STEP_THREAD, error);
	pthread_t thread;
	error = pthread_create(&thread, NULL, open_in_netns_thread, &job);
	int restore = pthread_sigmask(SIG_SETMASK, &previous, NULL);
	if (error == 0)
		error = pthread_join(thread, NULL);
	if (error != 0) {
		/* A thread that was created but not joined still owns job: only pthread_join can fail
		 * after a successful create, and it fails only for invalid arguments, never here. */
		return fail_step(failed, TCPKEEP_DIAG_STEP_THREAD, error);
	}
	if (job.result < 0)
		return fail_step(failed, job.step, job.error);
	if (restore != 0) {
		close(job.result);
		return fail_step(failed, TCPKEEP_DIAG_STEP_THREAD, restore);
	}
	if (failed)
		*failed = TCPKEEP_DIAG_STEP_NONE;
	errno = saved;
	return job.result;
}

int tcpkeep_diag_open_netns_path(const char *path, enum tcpkeep_diag_step *failed)
{
	int saved = errno;
	int netns_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (netns_fd < 0)
		return fail_step(failed, TCPKEEP_DIAG_STEP_OPEN, errno);
	int fd = tcpkeep_diag_open_in_netns(netns_fd, failed);
	int error = errno;
	close(netns_fd);
	errno = fd >= 0 ? saved : error;
	return fd;
}

/* ---- The port filter ------------------------------------------------------------------------ */

static void put_op(unsigned char *at, unsigned char code, unsigned char yes, unsigned short no)
{
	struct inet_diag_bc_op op = {.code = code, .yes = yes, .no = no};
	memcpy(at, &op, sizeof op);
}

/* Appends "port >= first && port <= last: accept" for one side, at `offset` of a program
 * `total` bytes long; a failed test goes on at the next block. Returns the new offset.
 *
 * The kernel (inet_diag_bc_run) runs a program from its start: each op jumps `yes` or `no`
 * bytes forward; the socket is accepted when the run ends exactly at the end, rejected when
 * it jumps past it. A port comparison is two ops, the second holding the port in `no`. Its
 * audit (inet_diag_bc_audit) walks the `yes` chain only, so every op must be reached by it,
 * every `no` must land on an op of that chain, at the very end, or 4 bytes past it. */
static size_t put_range(unsigned char *program, size_t offset, size_t total, unsigned char ge, unsigned char le,
			const struct tcpkeep_diag_port_range *range)
{
	size_t next = offset + 20;
	put_op(program + offset, ge, 8, (unsigned short)(next - offset));
	put_op(program + offset + 4, INET_DIAG_BC_NOP, 0, range->first);
	put_op(program + offset + 8, le, 8, (unsigned short)(next - (offset + 8)));
	put_op(program + offset + 12, INET_DIAG_BC_NOP, 0, range->last);
	/* Both held: jump to the end, which accepts. */
	put_op(program + offset + 16, INET_DIAG_BC_JMP, 4, (unsigned short)(total - (offset + 16)));
	return next;
}

/* The program for "local or remote port in any range"; returns its length. */
static size_t build_port_filter(unsigned char *program, const struct tcpkeep_diag_port_range *ranges, size_t count)
{
	size_t total = count * BYTECODE_PER_RANGE + 4;
	size_t offset = 0;
	for (size_t i = 0; i < count; i++) {
		offset = put_range(program, offset, total, INET_DIAG_BC_S_GE, INET_DIAG_BC_S_LE, &ranges[i]);
		offset = put_range(program, offset, total, INET_DIAG_BC_D_GE, INET_DIAG_BC_D_LE, &ranges[i]);
	}
	/* No range held: jump 4 bytes past the end, which rejects. */
	put_op(program + offset, INET_DIAG_BC_JMP, 4, 8);
	return total;
}

/* ---- Dumping -------------------------------------------------------------------------------- */

static uint32_t next_sequence(void)
{
	static uint32_t sequence;
	return __atomic_add_fetch(&sequence, 1, __ATOMIC_RELAXED);
}

static void decode(const struct inet_diag_msg *message, size_t attributes_length, struct tcpkeep_diag_socket *out)
{
	memset(out, 0, sizeof *out);
	out->family = message->idiag_family;
	out->state = message->idiag_state;
	out->timer = message->idiag_timer;
	out->retrans = message->idiag_retrans;
	if (message->idiag_timer == TCPKEEP_DIAG_TIMER_RETRANSMIT)
		out->retransmits = message->idiag_retrans;
	else if (message->idiag_timer == TCPKEEP_DIAG_TIMER_KEEPALIVE || message->idiag_timer == TCPKEEP_DIAG_TIMER_ZERO_WINDOW)
		out->probes = message->idiag_retrans;
	out->expires_ms = message->idiag_expires;
	out->rqueue = message->idiag_rqueue;
	out->wqueue = message->idiag_wqueue;
	out->uid = message->idiag_uid;
	out->inode = message->idiag_inode;
	out->ifindex = message->id.idiag_if;
	out->sport = ntohs(message->id.idiag_sport);
	out->dport = ntohs(message->id.idiag_dport);
	out->cookie = (uint64_t)message->id.idiag_cookie[1] << 32 | message->id.idiag_cookie[0];
	if (message->idiag_family == AF_INET6) {
		memcpy(out->src, message->id.idiag_src, 16);
		memcpy(out->dst, message->id.idiag_dst, 16);
	} else {
		out->src[10] = out->src[11] = 0xff;
		out->dst[10] = out->dst[11] = 0xff;
		memcpy(out->src + 12, &message->id.idiag_src[0], 4);
		memcpy(out->dst + 12, &message->id.idiag_dst[0], 4);
	}

	/* The attributes that follow; only the cgroup id is kept. */
	const unsigned char *at = (const unsigned char *)message + NLMSG_ALIGN(sizeof *message);
	while (attributes_length >= NLA_HDRLEN) {
		struct nlattr attribute;
		memcpy(&attribute, at, sizeof attribute);
		if (attribute.nla_len < NLA_HDRLEN || attribute.nla_len > attributes_length)
			break;
		if ((attribute.nla_type & NLA_TYPE_MASK) == INET_DIAG_CGROUP_ID && attribute.nla_len >= NLA_HDRLEN + 8)
			memcpy(&out->cgroup_id, at + NLA_HDRLEN, 8);
		size_t step = NLA_ALIGN(attribute.nla_len);
		if (step >= attributes_length)
			break;
		at += step;
		attributes_length -= step;
	}
}

/* Reads one family's answer to the end. *stopped is set once the callback asked to stop;
 * the rest is still read. 0 when done, -1 with errno. */
static int receive_answer(int fd, uint32_t sequence, unsigned char *buffer, tcpkeep_diag_callback callback, void *context,
			  int *stopped)
{
	for (;;) {
		struct sockaddr_nl from;
		struct iovec vector = {.iov_base = buffer, .iov_len = RECEIVE_BUFFER_SIZE};
		struct msghdr header = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &vector, .msg_iovlen = 1};
		ssize_t received = recvmsg(fd, &header, 0);
		if (received < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		/* Only the kernel (port 0) answers a diag request; root's other netlink sockets can
		 * send here too, and what they send, whatever its size, is none of this dump's. */
		if (header.msg_namelen >= sizeof from && from.nl_pid != 0)
			continue;
		if (header.msg_flags & MSG_TRUNC) {
			errno = EMSGSIZE;
			return -1;
		}
		if (received == 0) {
			errno = EPROTO;
			return -1;
		}

		size_t length = (size_t)received;
		size_t offset = 0;
		while (offset < length) {
			const struct nlmsghdr *message = (const struct nlmsghdr *)(buffer + offset);
			if (length - offset < sizeof *message || message->nlmsg_len < sizeof *message ||
			    message->nlmsg_len > length - offset) {
				errno = EPROTO;
				return -1;
			}
			offset += NLMSG_ALIGN(message->nlmsg_len);
			/* Left over from a dump that failed part way: not this one's. */
			if (message->nlmsg_seq != sequence)
				continue;
			size_t payload = message->nlmsg_len - NLMSG_HDRLEN;
			const unsigned char *data = (const unsigned char *)message + NLMSG_HDRLEN;

			if (message->nlmsg_type == NLMSG_DONE) {
				/* The payload is the dump's result: negative errno when it failed. */
				int result = 0;
				if (payload >= sizeof result)
					memcpy(&result, data, sizeof result);
				if (result < 0) {
					errno = -result;
					return -1;
				}
				return 0;
			}
			if (message->nlmsg_type == NLMSG_ERROR) {
				int result;
				if (payload < sizeof result) {
					errno = EPROTO;
					return -1;
				}
				memcpy(&result, data, sizeof result);
				if (result == 0) /* an acknowledgement */
					continue;
				errno = -result;
				return -1;
			}
			if (message->nlmsg_type != SOCK_DIAG_BY_FAMILY)
				continue;
			if (payload < sizeof(struct inet_diag_msg)) {
				errno = EPROTO;
				return -1;
			}
			if (*stopped)
				continue;
			size_t attributes = payload > NLMSG_ALIGN(sizeof(struct inet_diag_msg))
						    ? payload - NLMSG_ALIGN(sizeof(struct inet_diag_msg))
						    : 0;
			struct tcpkeep_diag_socket record;
			decode((const struct inet_diag_msg *)data, attributes, &record);
			if (callback(&record, context) != 0)
				*stopped = 1;
		}
	}
}

static int send_request(int fd, const unsigned char *request, size_t length)
{
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	for (;;) {
		ssize_t sent = sendto(fd, request, length, 0, (const struct sockaddr *)&kernel, sizeof kernel);
		if (sent < 0 && errno == EINTR)
			continue;
		if (sent < 0)
			return -1;
		if ((size_t)sent != length) {
			errno = EPROTO;
			return -1;
		}
		return 0;
	}
}

int tcpkeep_diag_dump(int diag_fd, unsigned families, uint32_t states, const struct tcpkeep_diag_port_range *ranges,
		      size_t range_count, tcpkeep_diag_callback callback, void *context)
{
	int saved = errno;
	if ((families & (TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6)) == 0 || states == 0 || callback == NULL ||
	    (range_count > 0 && ranges == NULL)) {
		errno = EINVAL;
		return -1;
	}
	if (range_count > TCPKEEP_DIAG_MAX_PORT_RANGES) {
		errno = E2BIG;
		return -1;
	}
	for (size_t i = 0; i < range_count; i++) {
		if (ranges[i].first > ranges[i].last) {
			errno = EINVAL;
			return -1;
		}
	}

	/* 8-byte aligned, as the messages' 64-bit attributes expect. */
	unsigned char *buffer = aligned_alloc(8, RECEIVE_BUFFER_SIZE);
	if (buffer == NULL) {
		errno = ENOMEM;
		return -1;
	}

	/* The request, built once (about 10 KiB at most, on the stack): header, inet_diag_req_v2,
	 * then the bytecode; only the family and the sequence number change between sends. */
	unsigned char request[sizeof(struct dump_request) + NLA_HDRLEN + BYTECODE_MAX];
	struct dump_request head;
	memset(&head, 0, sizeof head);
	head.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	head.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	head.request.sdiag_protocol = IPPROTO_TCP;
	head.request.idiag_states = states;
	size_t length = sizeof head;
	if (range_count > 0) {
		size_t program = build_port_filter(request + sizeof head + NLA_HDRLEN, ranges, range_count);
		struct nlattr attribute = {.nla_len = (unsigned short)(NLA_HDRLEN + program), .nla_type = INET_DIAG_REQ_BYTECODE};
		memcpy(request + sizeof head, &attribute, sizeof attribute);
		length += NLA_HDRLEN + program;
	}
	head.header.nlmsg_len = (uint32_t)length;

	const unsigned char family_codes[2] = {AF_INET, AF_INET6};
	const unsigned family_bits[2] = {TCPKEEP_DIAG_IPV4, TCPKEEP_DIAG_IPV6};
	int stopped = 0;
	int result = 0;
	for (int i = 0; i < 2 && !stopped && result == 0; i++) {
		if (!(families & family_bits[i]))
			continue;
		head.header.nlmsg_seq = next_sequence();
		head.request.sdiag_family = family_codes[i];
		memcpy(request, &head, sizeof head);
		if (send_request(diag_fd, request, length) != 0 ||
		    receive_answer(diag_fd, head.header.nlmsg_seq, buffer, callback, context, &stopped) != 0)
			result = -1;
	}

	int error = errno;
	free(buffer);
	if (result != 0) {
		errno = error;
		return -1;
	}
	errno = saved;
	return stopped ? 1 : 0;
}
