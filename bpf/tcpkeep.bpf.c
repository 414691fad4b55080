/*
 * tcpkeep's kernel mode: keepalive for every TCP connection of a cgroup v2,
 * without LD_PRELOAD, so it also reaches static binaries, Go programs,
 * setuid programs and containers.
 *
 * Built by bpf/build, which holds the compiler's flags.
 *
 * Three programs, reading the one entry of `tcpkeep_values` (its layout is
 * in tcpkeep_map.h), which the loader rewrites to reconfigure a live
 * attachment, through one function, settings(), and counting what they did in
 * `tcpkeep_counts`, a per-CPU array (no lock: each CPU adds to its own copy;
 * the loader sums them):
 *
 * In the agent's mode (TCPKEEP_MAP_BY_CGROUP in that entry; doc/agent.md) one
 *   attachment at the top of the tree serves many policies: settings() takes
 *   the entry of `tcpkeep_cgroups` nearest to the current task's cgroup (its
 *   own, else its nearest ancestor's), so it is asked only where the current
 *   task owns the socket: at connect, at listen, and in cgroup/setsockopt.
 *   The callbacks that run in softirq context (a connection established or
 *   accepted, an error) go by the counters slot remembered on the socket at
 *   connect or listen, which accepted sockets inherit; a connection accepted
 *   by a listener older than the attachment gets nothing.
 *
 * tcpkeep_sockops (sock_ops, BPF_CGROUP_SOCK_OPS) turns SO_KEEPALIVE on and
 *   sets each configured value, the values first: SO_KEEPALIVE then arms the
 *   keepalive timer once, with the idle time in place, where TCP_KEEPIDLE set
 *   after it would arm it again.  It runs
 *   - when a TCP socket of the cgroup connects (BPF_SOCK_OPS_TCP_CONNECT_CB,
 *     before the SYN leaves);
 *   - when a socket starts listening (BPF_SOCK_OPS_TCP_LISTEN_CB, which needs
 *     no callback flag: measured on Linux 6.18, it runs for every listen()).
 *     Accepted sockets are copies of their listener: they inherit
 *     SO_KEEPALIVE, the values and the listener's sock_ops callback flags, so
 *     an accepted connection costs no bpf_setsockopt() at all;
 *   - when a connection is accepted (BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB, on
 *     the new socket): one that carries tcpkeep's mark came from a listener
 *     this program configured (or one on which another sock_ops program set
 *     the same flag, which all sock_ops programs share) and is only counted;
 *     any other (a listener older than the attachment, or one whose keepalive
 *     the program had turned on itself) is handled as at connect.
 *   A program's own setsockopt() after connect(), listen() or accept() wins
 *   (without enforce), since nothing runs after these points: on a listener,
 *   it holds for every connection accepted after it.
 *   Without enforce, a socket whose keepalive is already on (the program
 *   turned it on itself, before connect() or on its listener) is left exactly
 *   as the program made it, and counted `kept`: tcpkeep is for programs that
 *   never ask for keepalive, and overwriting a program's own choice could
 *   loosen it.  With enforce, every socket gets keepalive, and a value the
 *   socket already has is kept only when it is stricter.  Whether keepalive
 *   is on is read from the socket's flags (CO-RE, below), which costs no
 *   bpf_getsockopt() and works on every kernel the program loads on.
 *   Every connection it configured or kept carries tcpkeep's mark from the
 *   moment it is established: BPF_SOCK_OPS_RTO_CB_FLAG, set at
 *   BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB for an outgoing one, on the listener
 *   (which its connections inherit) or when accepted for an incoming one.
 *   That flag only asks for a callback at a retransmission timeout, where the
 *   program returns at once, so the mark costs nothing while a connection is
 *   healthy; the state callback (BPF_SOCK_OPS_STATE_CB_FLAG) would run the
 *   program at each of a connection's state changes, three to six times a
 *   connection, and cost more than all the settings together (measured:
 *   bench/kernel-mode, doc/benchmarks.md).
 *
 * tcpkeep_timeouts (tp_btf/inet_sk_error_report) counts `timed_out`: the
 *   tracepoint fires when a socket reports an error to its owner, which a
 *   healthy connection never does.  A connection ended by keepalive, the user
 *   timeout or the retransmission limit goes through tcp_write_err(): sk_err
 *   becomes ETIMEDOUT (or a soft error seen before, such as EHOSTUNREACH from
 *   an ICMP message; such a connection is not counted), the socket moves to
 *   CLOSE, and the error is reported.  Counted: a TCP socket with that error
 *   and tcpkeep's mark (so it was established, and configured or kept by
 *   tcpkeep; a connect() that timed out is not), still held by its program
 *   (an orphan, which kernels before upstream's 2024 fix to tcp_write_err()
 *   still report, has nobody waiting on it), in a cgroup where this
 *   attachment's sock_ops program runs: the program's id, which the loader
 *   writes into `tcpkeep_self`, is among the first TCPKEEP_MAX_EFFECTIVE of
 *   the cgroup's effective sock_ops programs (its own and those its
 *   ancestors pass on); in the agent's mode, one its settings reached (it
 *   has a counters slot).  Each subflow of an MPTCP connection is a TCP
 *   socket of its own and counts apart.  The tracepoint is global but fires
 *   only on errors, and the
 *   loader leaves the program out on a kernel without it or without the
 *   kernel types it reads (before Linux 5.15): kernel mode then works, and
 *   `kernel status` says that timeouts are not counted.
 *
 * tcpkeep_setopt (cgroup/setsockopt, BPF_CGROUP_SETSOCKOPT), attached only
 *   while enforcing: a process's setsockopt() on a TCP socket that would
 *   loosen keepalive is rewritten before the kernel sees it.  SO_KEEPALIVE=0
 *   becomes 1; TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT or TCP_USER_TIMEOUT
 *   above the configured value becomes the configured value (a user timeout
 *   of 0, the system default, is looser than any configured non-zero one).
 *   Stricter values pass unchanged, and so do values outside the kernel's
 *   range (idle and interval 1..32767, count 1..127, user timeout >= 0), so
 *   the kernel still answers EINVAL.  The program always returns 1: it never
 *   refuses a call.
 *
 * MPTCP (measured on Linux 6.18 by bpf/test/attach_check.c):
 *   The sock_ops callbacks run for the TCP subflows of an MPTCP connection,
 *   never for the MPTCP socket itself: for the first subflow at connect and
 *   at accept, and for subflows the path manager adds later (MP_JOIN), since
 *   the kernel puts each subflow in its MPTCP socket's cgroup.  So every
 *   subflow gets keepalive and the values (ss shows its keepalive timer) and
 *   sends the probes, while getsockopt() on the MPTCP socket still reports
 *   SO_KEEPALIVE=0 and the system's timing values.  The MPTCP socket passes a
 *   program's own SO_KEEPALIVE / TCP_KEEP* setsockopt() on to every subflow,
 *   so without enforce a program that turns keepalive off turns it off on the
 *   subflows too.  The setsockopt hook sees MPTCP sockets (protocol
 *   IPPROTO_MPTCP), and enforce treats them as TCP: the rewritten value is
 *   what reaches the subflows.  TCP_USER_TIMEOUT is refused on an MPTCP
 *   socket (EOPNOTSUPP, set or get), with or without tcpkeep; the sock_ops
 *   program sets it on each subflow as on any TCP socket (a subflow's user
 *   timeout cannot be read from user space, so that part is not measured).
 */
#include <linux/in.h>  /* IPPROTO_TCP, IPPROTO_MPTCP */
#include <linux/tcp.h> /* TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT */
#include <asm/socket.h> /* SOL_SOCKET, SO_KEEPALIVE: they differ between architectures */
#include <linux/errno.h> /* ETIMEDOUT */

#include "tcpkeep_bpf.h"
#include "tcpkeep_map.h"

/* The C library's constants, which <linux/...> headers do not define. */
#define AF_INET 2
#define AF_INET6 10
#define SOL_TCP 6

/* The kernel's limits on each value (include/net/tcp.h, do_tcp_setsockopt). */
#define MAX_KEEPIDLE 32767
#define MAX_KEEPINTVL 32767
#define MAX_KEEPCNT 127
#define INT_MAX 0x7fffffff

/* The largest setsockopt() buffer the kernel lets a program see when the
 * loader did not say (the page size of x86_64 and most arm64 kernels). */
#define DEFAULT_PAGE_SIZE 4096

/* How many sock_ops programs of a cgroup the timeouts program looks through
 * for its own (a cgroup's, and those its ancestors attached with
 * BPF_F_ALLOW_MULTI). */
#define TCPKEEP_MAX_EFFECTIVE 64

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tcpkeep_map_value);
} tcpkeep_values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TCPKEEP_MAP_SLOTS);
	__type(key, __u32);
	__type(value, struct tcpkeep_map_counters);
} tcpkeep_counts SEC(".maps");

/* The id of this attachment's sock_ops program, written by the loader once
 * the programs are loaded. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} tcpkeep_self SEC(".maps");

/* The agent's settings by cgroup id (TCPKEEP_MAP_BY_CGROUP). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TCPKEEP_MAP_CGROUPS);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u64);
	__type(value, struct tcpkeep_map_value);
} tcpkeep_cgroups SEC(".maps");

/* The counters slot of a socket the agent's settings reached, remembered at
 * connect or listen, for the callbacks that run in softirq context (where the
 * current task is not the socket's owner); BPF_F_CLONE hands a listener's to
 * the connections it accepts. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC | BPF_F_CLONE);
	__type(key, int);
	__type(value, __u32);
} tcpkeep_slots SEC(".maps");

/* The kernel's types, as far as the programs read them, declared for CO-RE:
 * libbpf relocates each access to the running kernel's layout. */
enum sock_flags {
	SOCK_DEAD = 0,
	SOCK_KEEPOPEN = 3,
};

enum cgroup_bpf_attach_type {
	CGROUP_SOCK_OPS = 3,
};

struct bpf_prog_aux {
	__u32 id;
} __attribute__((preserve_access_index));

struct bpf_prog {
	struct bpf_prog_aux *aux;
} __attribute__((preserve_access_index));

struct bpf_prog_array_item {
	struct bpf_prog *prog;
} __attribute__((preserve_access_index));

struct bpf_prog_array {
	struct bpf_prog_array_item items[0];
} __attribute__((preserve_access_index));

struct cgroup_bpf {
	struct bpf_prog_array *effective[0];
} __attribute__((preserve_access_index));

struct cgroup {
	struct cgroup_bpf bpf;
} __attribute__((preserve_access_index));

struct sock_cgroup_data {
	struct cgroup *cgroup;
} __attribute__((preserve_access_index));

struct sock_common {
	unsigned long skc_flags;
} __attribute__((preserve_access_index));

struct sock {
	struct sock_common __sk_common;
	int sk_err;
	__u16 sk_protocol;
	struct sock_cgroup_data sk_cgrp_data;
} __attribute__((preserve_access_index));

struct inet_sock {
	struct sock sk;
} __attribute__((preserve_access_index));

struct inet_connection_sock {
	struct inet_sock icsk_inet;
} __attribute__((preserve_access_index));

struct tcp_sock {
	struct inet_connection_sock inet_conn;
	__u8 bpf_sock_ops_cb_flags;
} __attribute__((preserve_access_index));

/* tcpkeep's mark on a connection it configured or kept, once established (see
 * the top of this file). */
#define TCPKEEP_MARK BPF_SOCK_OPS_RTO_CB_FLAG

/* Adds one to a counter of a slot in this CPU's copy.  Atomic, since a softirq (an
 * accepted connection, a timer) may interrupt the program on the same CPU. */
#define COUNT(slot, field)                                                                                   \
	do {                                                                                                 \
		__u32 key_ = (slot);                                                                         \
		struct tcpkeep_map_counters *counters_ = bpf_map_lookup_elem(&tcpkeep_counts, &key_);       \
		if (counters_ != 0)                                                                          \
			__sync_fetch_and_add(&counters_->field, 1);                                          \
	} while (0)

/* The attachment's configuration; 0 when the entry is not (yet) a valid one. */
static __always_inline const struct tcpkeep_map_value *configuration(void)
{
	__u32 key = 0;
	const struct tcpkeep_map_value *entry = bpf_map_lookup_elem(&tcpkeep_values, &key);
	return entry != 0 && entry->layout == TCPKEEP_MAP_LAYOUT ? entry : 0;
}

/* Whether the settings come from the cgroup map (the agent's mode). */
static __always_inline int by_cgroup(const struct tcpkeep_map_value *configuration)
{
	return (configuration->configured & TCPKEEP_MAP_BY_CGROUP) != 0;
}

/* The entry of the current task's cgroup or of its nearest ancestor that has
 * one, walking from the root down; 0 when none has.  Process context only. */
static __always_inline const struct tcpkeep_map_value *nearest_cgroup_entry(void)
{
	const struct tcpkeep_map_value *nearest = 0;
	for (int level = 0; level < TCPKEEP_MAP_MAX_DEPTH; level++) {
		__u64 id = bpf_get_current_ancestor_cgroup_id(level);
		if (id == 0)
			break;
		const struct tcpkeep_map_value *entry = bpf_map_lookup_elem(&tcpkeep_cgroups, &id);
		if (entry != 0)
			nearest = entry;
	}
	return nearest != 0 && nearest->layout == TCPKEEP_MAP_LAYOUT ? nearest : 0;
}

/* The settings: a copy of the configuration, or in the agent's mode of the
 * current task's nearest cgroup entry, and the counters slot they count in;
 * 0 when there are none.  The one place both programs find them; in the
 * agent's mode, only from callbacks that run in the task's context. */
static __always_inline int settings(struct tcpkeep_map_value *values, __u32 *slot)
{
	const struct tcpkeep_map_value *entry = configuration();
	*slot = 0;
	if (entry == 0)
		return 0;
	*values = *entry;
	if (!by_cgroup(entry))
		return 1;
	const struct tcpkeep_map_value *nearest = nearest_cgroup_entry();
	if (nearest == 0)
		return 0;
	__u32 page_size = values->page_size;
	*values = *nearest;
	values->page_size = page_size;
	*slot = nearest->cgroup_id < TCPKEEP_MAP_SLOTS ? (__u32)nearest->cgroup_id : 0;
	return 1;
}

/* The slot a socket's counts go to: the one remembered for it, else 0. */
static __always_inline __u32 socket_slot(struct bpf_sock_ops *skops)
{
	if (skops->sk == 0)
		return 0;
	__u32 *slot = bpf_sk_storage_get(&tcpkeep_slots, skops->sk, 0, 0);
	return slot != 0 ? *slot : 0;
}

static __always_inline void remember_slot(struct bpf_sock_ops *skops, __u32 slot)
{
	if (slot == 0 || skops->sk == 0)
		return;
	__u32 *stored = bpf_sk_storage_get(&tcpkeep_slots, skops->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (stored != 0)
		*stored = slot;
}

/* Whether `have` is at least as strict as `want`.  For TCP_USER_TIMEOUT 0
 * means "no limit" (the system default): the loosest value. */
static __always_inline int at_least_as_strict(int have, int want, int zero_means_none)
{
	if (zero_means_none) {
		if (want == 0)
			return 1;
		if (have == 0)
			return 0;
	}
	return have <= want;
}

/* Sets a TCP-level value at connect or accept.  When `keep_stricter`, a value
 * the socket already has (its own or the system's) stays if it is stricter. */
static __always_inline void set_value(struct bpf_sock_ops *skops, int optname, int want,
				      int keep_stricter, int zero_means_none)
{
	if (keep_stricter) {
		int have = 0;
		if (bpf_getsockopt(skops, SOL_TCP, optname, &have, sizeof have) == 0 &&
		    at_least_as_strict(have, want, zero_means_none))
			return;
	}
	bpf_setsockopt(skops, SOL_TCP, optname, &want, sizeof want);
}

/* Whether the socket's SO_KEEPALIVE is on: its SOCK_KEEPOPEN flag, read where
 * the kernel keeps it rather than through bpf_getsockopt() (the cheaper call,
 * and bpf_getsockopt() reads SO_KEEPALIVE only since Linux 6.1). */
static __always_inline int keepalive_on(struct bpf_sock_ops *skops)
{
	struct bpf_sock *sk = skops->sk;
	struct tcp_sock *tcp = sk != 0 ? bpf_skc_to_tcp_sock(sk) : 0;
	if (tcp == 0)
		return 0;
	unsigned long flags = tcp->inet_conn.icsk_inet.sk.__sk_common.skc_flags;
	return (flags >> BPF_CORE_ENUM_VALUE(enum sock_flags, SOCK_KEEPOPEN)) & 1;
}

/* Gives the socket keepalive and the values; 0 when it leaves it as it is
 * (its keepalive already on, no enforce). */
static __always_inline int configure(struct bpf_sock_ops *skops, const struct tcpkeep_map_value *values)
{
	int on = keepalive_on(skops);
	if (on && !values->enforce)
		return 0;
	int strict = values->enforce != 0;
	if (values->configured & TCPKEEP_MAP_IDLE)
		set_value(skops, TCP_KEEPIDLE, values->idle, strict, 0);
	if (values->configured & TCPKEEP_MAP_INTERVAL)
		set_value(skops, TCP_KEEPINTVL, values->interval, strict, 0);
	if (values->configured & TCPKEEP_MAP_COUNT)
		set_value(skops, TCP_KEEPCNT, values->count, strict, 0);
	if (values->configured & TCPKEEP_MAP_USER_TIMEOUT)
		set_value(skops, TCP_USER_TIMEOUT, values->user_timeout, strict, 1);
	if (!on) {
		int one = 1;
		bpf_setsockopt(skops, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
	}
	return 1;
}

/* Marks a connection (or a listener, for the connections it accepts). */
static __always_inline void mark(struct bpf_sock_ops *skops)
{
	bpf_sock_ops_cb_flags_set(skops, (int)(skops->bpf_sock_ops_cb_flags | TCPKEEP_MARK));
}

SEC("sockops")
int tcpkeep_sockops(struct bpf_sock_ops *skops)
{
	__u32 op = skops->op;
	if (op != BPF_SOCK_OPS_TCP_CONNECT_CB && op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB &&
	    op != BPF_SOCK_OPS_TCP_LISTEN_CB && op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	if (skops->family != AF_INET && skops->family != AF_INET6)
		return 1;
	/* Accepted by a listener configured below: it inherited everything. */
	if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && (skops->bpf_sock_ops_cb_flags & TCPKEEP_MARK)) {
		COUNT(socket_slot(skops), configured_passive);
		return 1;
	}
	const struct tcpkeep_map_value *attachment = configuration();
	if (attachment == 0)
		return 1;
	/* A connection this program saw connect (configured or kept), now
	 * established; in the agent's mode, one its settings reached, which has
	 * its slot. */
	if (op == BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB) {
		if (!by_cgroup(attachment) || socket_slot(skops) != 0)
			mark(skops);
		return 1;
	}
	/* The agent's mode, in softirq context: the current task is not the
	 * socket's owner, so its cgroup says nothing; an accepted connection whose
	 * listener is older than the attachment gets nothing (doc/agent.md). */
	if (by_cgroup(attachment) && op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	struct tcpkeep_map_value values;
	__u32 slot;
	if (!settings(&values, &slot))
		return 1;
	int configured = configure(skops, &values);
	if (op == BPF_SOCK_OPS_TCP_LISTEN_CB) {
		/* A listener is no connection: its children are counted as they come. */
		if (configured) {
			remember_slot(skops, slot);
			mark(skops);
		}
		return 1;
	}
	if (op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		remember_slot(skops, slot);
	if (!configured)
		COUNT(slot, kept);
	else if (op == BPF_SOCK_OPS_TCP_CONNECT_CB)
		COUNT(slot, configured_active);
	else
		COUNT(slot, configured_passive);
	if (op == BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		mark(skops);
	return 1;
}

/* Whether the sock_ops program `program_id` runs for the socket's cgroup: it
 * is among the cgroup's effective sock_ops programs, a list that ends with a
 * null program.  The kernel's pointers are followed with probe reads. */
static __always_inline int runs_for(struct sock *sk, __u32 program_id)
{
	struct cgroup *cgroup = 0;
	struct bpf_prog_array *programs = 0;
	if (BPF_CORE_READ_INTO(cgroup, sk->sk_cgrp_data.cgroup) != 0 || cgroup == 0)
		return 0;
	__u64 index = BPF_CORE_ENUM_VALUE(enum cgroup_bpf_attach_type, CGROUP_SOCK_OPS);
	const char *effective = (const char *)__builtin_preserve_access_index(&cgroup->bpf.effective[0]);
	if (bpf_probe_read_kernel(&programs, sizeof programs, effective + index * sizeof programs) != 0 ||
	    programs == 0)
		return 0;
	const char *item = (const char *)__builtin_preserve_access_index(&programs->items[0].prog);
	__u64 item_size = BPF_CORE_TYPE_SIZE(struct bpf_prog_array_item);
	for (int i = 0; i < TCPKEEP_MAX_EFFECTIVE; i++, item += item_size) {
		struct bpf_prog *program = 0;
		__u32 id = 0;
		if (bpf_probe_read_kernel(&program, sizeof program, item) != 0 || program == 0)
			return 0;
		struct bpf_prog_aux *aux = 0;
		if (BPF_CORE_READ_INTO(aux, program->aux) == 0 && aux != 0 && BPF_CORE_READ_INTO(id, aux->id) == 0 &&
		    id == program_id)
			return 1;
	}
	return 0;
}

SEC("tp_btf/inet_sk_error_report")
int tcpkeep_timeouts(__u64 *context)
{
	struct sock *sk = (struct sock *)context[0];
	if (sk == 0 || sk->sk_protocol != IPPROTO_TCP || sk->sk_err != ETIMEDOUT ||
	    (sk->__sk_common.skc_flags >> BPF_CORE_ENUM_VALUE(enum sock_flags, SOCK_DEAD)) & 1)
		return 0;
	struct tcp_sock *tcp = bpf_skc_to_tcp_sock(sk);
	if (tcp == 0 || !(tcp->bpf_sock_ops_cb_flags & TCPKEEP_MARK))
		return 0;
	const struct tcpkeep_map_value *attachment = configuration();
	__u32 key = 0;
	const __u32 *sockops_program = bpf_map_lookup_elem(&tcpkeep_self, &key);
	if (attachment == 0 || sockops_program == 0 || !runs_for(sk, *sockops_program))
		return 0;
	__u32 *stored = bpf_sk_storage_get(&tcpkeep_slots, sk, 0, 0);
	__u32 slot = stored != 0 ? *stored : 0;
	/* In the agent's mode, a socket its settings never reached: another
	 * attachment's, below the agent's root. */
	if (slot == 0 && by_cgroup(attachment))
		return 0;
	COUNT(slot, timed_out);
	return 0;
}

/* TCP, or MPTCP (which passes the keepalive options on to its subflows). */
static __always_inline int is_tcp(const struct bpf_sock *sk)
{
	if (sk == 0 || (sk->family != AF_INET && sk->family != AF_INET6))
		return 0;
	return sk->protocol == IPPROTO_TCP || sk->protocol == IPPROTO_MPTCP;
}

/* Rewrites a loosening setsockopt() in place; 1 when it did.  Leaves alone
 * any call that is not about keepalive, too short for an int (the kernel
 * answers EINVAL), outside the kernel's range (EINVAL too), or not looser. */
static __always_inline int tighten(struct bpf_sockopt *ctx, const struct tcpkeep_map_value *values)
{
	int level = ctx->level, optname = ctx->optname;
	int want, min, max, zero_means_none = 0;

	if (level == SOL_SOCKET && optname == SO_KEEPALIVE) {
		want = 1; /* any non-zero value turns keepalive on */
		min = 0;
		max = 0;
	} else if (level == SOL_TCP && optname == TCP_KEEPIDLE && (values->configured & TCPKEEP_MAP_IDLE)) {
		want = values->idle;
		min = 1;
		max = MAX_KEEPIDLE;
	} else if (level == SOL_TCP && optname == TCP_KEEPINTVL &&
		   (values->configured & TCPKEEP_MAP_INTERVAL)) {
		want = values->interval;
		min = 1;
		max = MAX_KEEPINTVL;
	} else if (level == SOL_TCP && optname == TCP_KEEPCNT && (values->configured & TCPKEEP_MAP_COUNT)) {
		want = values->count;
		min = 1;
		max = MAX_KEEPCNT;
	} else if (level == SOL_TCP && optname == TCP_USER_TIMEOUT &&
		   (values->configured & TCPKEEP_MAP_USER_TIMEOUT)) {
		want = values->user_timeout;
		min = 0;
		max = INT_MAX;
		zero_means_none = 1;
	} else {
		return 0;
	}

	if (ctx->optlen < (int)sizeof(int))
		return 0;
	int *value = ctx->optval;
	if ((void *)(value + 1) > ctx->optval_end)
		return 0;
	int asked = *value;

	if (level == SOL_SOCKET) {
		if (asked != 0)
			return 0;
	} else if (asked < min || asked > max || at_least_as_strict(asked, want, zero_means_none)) {
		return 0;
	}
	*value = want;
	/* The kernel reads an int; a shorter length also keeps the buffer within
	 * the page the program sees, so the rewrite is never ignored. */
	ctx->optlen = sizeof(int);
	return 1;
}

SEC("cgroup/setsockopt")
int tcpkeep_setopt(struct bpf_sockopt *ctx)
{
	struct tcpkeep_map_value values = {0};
	__u32 slot;
	int valid = settings(&values, &slot);

	if (valid && values.enforce && is_tcp(ctx->sk) && tighten(ctx, &values)) {
		COUNT(slot, enforced);
		return 1;
	}

	/* Untouched.  Of a buffer larger than a page the program saw only the
	 * first page; optlen 0 tells the kernel to use the caller's own buffer
	 * (kernels before 6.5 fail the call with EFAULT otherwise).  Shorter
	 * buffers keep their length, so a rewrite by another program attached
	 * to the cgroup is not undone. */
	__u32 page_size = valid && values.page_size ? values.page_size : DEFAULT_PAGE_SIZE;
	if (ctx->optlen > (int)page_size)
		ctx->optlen = 0;
	return 1;
}
