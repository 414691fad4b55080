/*
 * CTCPKeepBPF: tcpkeep's kernel mode, a small C API over libbpf.
 *
 * libbpf is opened at run time (libbpf.so.1, Debian's libbpf1): without it,
 * every function that needs it fails with ELIBACC and a message naming the
 * package, and the rest of tcpkeep works.
 *
 * Kernel mode attaches two BPF programs (bpf/tcpkeep.bpf.c, compiled at build
 * time and embedded in the executable, which passes the object to the
 * functions that load it) to a cgroup v2 directory:
 *   - a sock_ops program that turns keepalive on, with the configured values,
 *     on every TCP connection a process of the cgroup makes or accepts;
 *   - while enforcing, a cgroup/setsockopt program that rewrites a process's
 *     attempt to loosen those values.
 * No LD_PRELOAD is involved, so static binaries, Go programs, setuid programs
 * and containers are covered; sockets that exist before the attachment are
 * not.  Both are attached with BPF_F_ALLOW_MULTI, so they run beside programs
 * others attached to the same cgroup (systemd's, Cilium's).
 *
 * The programs and their values map are pinned in a pin directory on bpffs,
 * by default /sys/fs/bpf/tcpkeep/<cgroup id> (tcpkeep_bpf_default_pin_directory):
 *   <pin directory>/sock_ops     the sock_ops program
 *   <pin directory>/setsockopt   the cgroup/setsockopt program
 *   <pin directory>/values       the one-entry array map both read
 *   <pin directory>/counters     the per-CPU array both count in
 *   <pin directory>/cgroups      the settings by cgroup id (TCPKEEP_BPF_BY_CGROUP)
 * The pins keep the programs and map alive after the process exits; the
 * attachment itself is held by the cgroup.  A systemd unit may attach the same
 * pinned program with BPFProgram=sock_ops:<pin directory>/sock_ops.
 *
 * Errors: a function that fails returns -1 with errno set and writes one line
 * naming the failing step into `error` (which may be NULL; error_size counts
 * the terminating NUL).  Privileges: root, or CAP_BPF with CAP_NET_ADMIN
 * (and CAP_SYS_ADMIN to mount bpffs).  The functions are not thread-safe:
 * they briefly redirect libbpf's log.
 */
#ifndef CTCPKEEPBPF_H
#define CTCPKEEPBPF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A compiled BPF object: the bytes of an ELF file, which stay valid and
 * unchanged while a function reads them. */
struct tcpkeep_bpf_object {
	const void *bytes;
	size_t size;
};

/* Opens libbpf.so.1 (once a process); 0, or -1 with errno ELIBACC and "kernel
 * mode needs libbpf (Debian/Ubuntu package libbpf1): ..." in `error`.  Every
 * function below that needs libbpf calls it first. */
int tcpkeep_bpf_open_libbpf(char *error, size_t error_size);

/* Bits of tcpkeep_bpf_values.configured_mask. */
#define TCPKEEP_BPF_IDLE (1u << 0)         /* TCP_KEEPIDLE, seconds, 1..32767 */
#define TCPKEEP_BPF_INTERVAL (1u << 1)     /* TCP_KEEPINTVL, seconds, 1..32767 */
#define TCPKEEP_BPF_COUNT (1u << 2)        /* TCP_KEEPCNT, probes, 1..127 */
#define TCPKEEP_BPF_USER_TIMEOUT (1u << 3) /* TCP_USER_TIMEOUT, ms, >= 0 (0: system default) */
/* The agent's mode: each socket's settings come from the pinned cgroup map
 * (tcpkeep_bpf_set_cgroup_settings) by the cgroup of the process that connects
 * or listens, the nearest entry among it and its ancestors; the other values
 * are unused. */
#define TCPKEEP_BPF_BY_CGROUP (1u << 31)

/* What each connection gets.  SO_KEEPALIVE is always turned on; a value whose
 * bit is clear in configured_mask is not set (the net.ipv4.tcp_keepalive_*
 * sysctls apply) and its field is ignored.
 *
 * enforce = 0: a socket whose keepalive the program already turned on before
 *   connect() (or on its listener, for accepted sockets) is left as it is, and
 *   a program's setsockopt() after connect()/accept() wins.
 * enforce = 1: every TCP socket gets keepalive and values no looser than
 *   these; a stricter value of the program's own is kept, and setsockopt()
 *   calls that would loosen them are rewritten to the configured value. */
struct tcpkeep_bpf_values {
	uint32_t configured_mask;
	int32_t idle;
	int32_t interval;
	int32_t count;
	int32_t user_timeout;
	uint32_t enforce;
};

/* Flags for tcpkeep_bpf_attach. */
#define TCPKEEP_BPF_MOUNT_BPFFS (1u << 0) /* mount bpffs at /sys/fs/bpf when the pin directory is
					     under it and nothing is mounted there */
#define TCPKEEP_BPF_VERBOSE (1u << 1)     /* let libbpf print its log (the verifier's) to stderr */

#define TCPKEEP_BPF_PIN_ROOT "/sys/fs/bpf/tcpkeep"

/* What tcpkeep_bpf_preflight found; 0 when kernel mode can attach. */
enum tcpkeep_bpf_problem {
	TCPKEEP_BPF_READY = 0,
	TCPKEEP_BPF_NOT_PRIVILEGED = 1,     /* EPERM: neither root nor CAP_BPF + CAP_NET_ADMIN, or the
					       kernel refuses bpf() (EPERM/EACCES: a seccomp filter,
					       a security module) */
	TCPKEEP_BPF_NO_CGROUP2 = 2,         /* ENOENT: no cgroup2 mount in /proc/self/mounts */
	TCPKEEP_BPF_CGROUP_MISSING = 3,     /* ENOENT: the cgroup path does not exist */
	TCPKEEP_BPF_NOT_CGROUP2 = 4,        /* ENOTDIR/EINVAL: not a directory of the cgroup v2 fs
					       (a cgroup v1 hierarchy, or another file system) */
	TCPKEEP_BPF_NO_BPFFS = 5,           /* ENOENT/EINVAL: the pin directory is not on bpffs */
	TCPKEEP_BPF_KERNEL_UNSUPPORTED = 6, /* EOPNOTSUPP: a program type or helper is missing, or
					       the kernel refuses the programs */
	TCPKEEP_BPF_NO_LIBBPF = 7,          /* ELIBACC: libbpf.so.1 cannot be opened */
};

/* Checks, in this order, that libbpf can be opened, that the caller may load and attach BPF programs,
 * that a cgroup v2 hierarchy is mounted, that cgroup_path exists and is a
 * cgroup v2 directory, that the pin directory (or its nearest existing
 * parent) is on bpffs, and that the kernel has the program types and helpers
 * kernel mode needs and accepts tcpkeep's programs (they are loaded and
 * unloaded again; nothing is pinned or attached).  cgroup_path NULL skips the
 * cgroup checks; pin_directory NULL checks TCPKEEP_BPF_PIN_ROOT.
 * Returns the first problem found (errno set, message in `error`) or
 * TCPKEEP_BPF_READY.  Changes nothing: it does not mount bpffs. */
enum tcpkeep_bpf_problem tcpkeep_bpf_preflight(struct tcpkeep_bpf_object object, const char *cgroup_path, const char *pin_directory,
					       char *error, size_t error_size);

/* Writes TCPKEEP_BPF_PIN_ROOT "/<cgroup id>" for cgroup_path into `buffer`.
 * Returns 0, or -1 (ENAMETOOLONG when it does not fit). */
int tcpkeep_bpf_default_pin_directory(const char *cgroup_path, char *buffer, size_t buffer_size,
				      char *error, size_t error_size);

/* Checks each configured value against the kernel's range; 0 or -1 (EINVAL). */
int tcpkeep_bpf_validate(const struct tcpkeep_bpf_values *values, char *error, size_t error_size);

/* Attaches kernel mode to cgroup_path with `values`.
 * With no pins in pin_directory: loads the programs of `object` (bpf/tcpkeep.bpf.c), pins them and
 * the values map there (creating the directory and its parents), writes the
 * values, attaches the sock_ops program, and the setsockopt program when
 * enforcing.  On any failure nothing stays loaded, pinned or attached, and the
 * directories it created are removed.
 * With tcpkeep's pins already there (for this same cgroup): rewrites the
 * values map in place, which takes effect for the next connection, attaches
 * or detaches the setsockopt program as enforce changed, and re-attaches the
 * sock_ops program if someone detached it.  On failure the previous values and
 * attachments are restored.
 * Refuses (EEXIST) when a tcpkeep sock_ops program from another pin directory
 * is attached to the cgroup. */
int tcpkeep_bpf_attach(struct tcpkeep_bpf_object object, const char *cgroup_path, const char *pin_directory,
		       const struct tcpkeep_bpf_values *values, uint32_t flags, char *error,
		       size_t error_size);

/* Loads the programs of `object` (bpf/tcpkeep.bpf.c) and pins them and the values map in
 * pin_directory, attached to nothing: systemd attaches them to a unit's cgroup
 * at each start (BPFProgram=sock_ops:<dir>/sock_ops, setsockopt:<dir>/setsockopt).
 * With tcpkeep's pins already there, rewrites the values map in place.  On
 * failure nothing stays loaded or pinned.  tcpkeep_bpf_detach with a NULL
 * cgroup removes the pins. */
int tcpkeep_bpf_pin(struct tcpkeep_bpf_object object, const char *pin_directory, const struct tcpkeep_bpf_values *values, uint32_t flags,
		    char *error, size_t error_size);

/* Detaches tcpkeep's programs (the ones pinned in pin_directory) from
 * cgroup_path, leaving every other program of the cgroup attached, then
 * removes the pins and pin_directory itself, and then its parents up to
 * TCPKEEP_BPF_PIN_ROOT (included) while they are left empty.  A program
 * that is no longer attached is not an error; cgroup_path may be NULL, or a
 * cgroup that no longer exists, to remove the pins alone.  Refuses (EINVAL)
 * when the pins belong to a different cgroup, and leaves the directory if it
 * holds files that are not tcpkeep's (ENOTEMPTY). */
int tcpkeep_bpf_detach(const char *cgroup_path, const char *pin_directory, char *error,
		       size_t error_size);

/* What an attachment's programs did since it was made, summed over the CPUs. */
struct tcpkeep_bpf_counters {
	uint64_t configured_active;  /* connections given keepalive at connect() */
	uint64_t configured_passive; /* accepted connections given keepalive (most inherit it from
					a listener the program configured at listen()) */
	uint64_t kept;               /* connections whose own keepalive was left alone (no enforce) */
	uint64_t enforced;           /* setsockopt() calls rewritten by enforce */
	uint64_t timed_out;          /* established connections configured or kept that ended with
					ETIMEDOUT: a dead peer found by keepalive, the user timeout
					or the retransmission limit (when timeouts_counted) */
};

/* One attachment, as read back from its pin directory. */
struct tcpkeep_bpf_status {
	uint64_t cgroup_id;
	struct tcpkeep_bpf_values values; /* from the pinned map */
	uint32_t map_id;                  /* kernel ids, as bpftool shows them */
	uint32_t sockops_program_id;
	uint32_t setsockopt_program_id;
	/* From BPF_PROG_QUERY on the cgroup: 1 attached, 0 not attached, -1 the
	 * cgroup could not be found or queried (cgroup_path is then ""). */
	int32_t sockops_attached;
	int32_t setsockopt_attached;
	/* 1 when `counters` was read; 0 when the pins have no counters map (made by a
	 * tcpkeep before the counters). */
	int32_t counters_known;
	/* 1 when timed_out counts: the timeouts program is attached (its link
	 * pinned beside the programs), or the pins were made by a tcpkeep before
	 * it, whose sock_ops program counted timeouts itself; 0 on a kernel that
	 * refused the program or its tracepoint (before Linux 5.15): timed_out
	 * then stays 0. */
	int32_t timeouts_counted;
	struct tcpkeep_bpf_counters counters;
};

/* Reads the attachment pinned in pin_directory.  cgroup_path (may be NULL)
 * receives the cgroup's path, found from its id under the cgroup v2 mount.
 * To list every attachment, call it for each directory in
 * TCPKEEP_BPF_PIN_ROOT. */
int tcpkeep_bpf_get_status(const char *pin_directory, struct tcpkeep_bpf_status *status,
			   char *cgroup_path, size_t cgroup_path_size, char *error, size_t error_size);

/* Sets *runs to 1 when the sock_ops program with that id runs for the sockets
 * of cgroup_path: attached to it or to an ancestor (BPF_F_QUERY_EFFECTIVE).
 * Returns 0, or -1 with errno set. */
int tcpkeep_bpf_runs_in(const char *cgroup_path, uint32_t sockops_program_id, int *runs, char *error,
			size_t error_size);

/* ---- the agent's cgroup map ----------------------------------------------
 *
 * An attachment made with TCPKEEP_BPF_BY_CGROUP reads each socket's settings
 * from <pin directory>/cgroups, a hash map keyed by cgroup id (the cgroup v2
 * directory's inode number) of at most TCPKEEP_BPF_CGROUP_ENTRIES entries.
 * Each entry names a counters slot, 1..TCPKEEP_BPF_COUNTER_SLOTS-1, where the
 * sockets it configures are counted (slot 0 counts the rest). */

#define TCPKEEP_BPF_COUNTER_SLOTS 256
#define TCPKEEP_BPF_CGROUP_ENTRIES 65536

/* Opens the pinned cgroup map and counters map of pin_directory; 0 with their
 * descriptors (the caller closes them), or -1 with errno set and a message. */
int tcpkeep_bpf_open_cgroup_maps(const char *pin_directory, int *cgroups_fd, int *counters_fd, char *error,
				 size_t error_size);

/* Writes a cgroup's entry; 0, or -1 with errno set (E2BIG: the map is full). */
int tcpkeep_bpf_set_cgroup_settings(int cgroups_fd, uint64_t cgroup_id, const struct tcpkeep_bpf_values *values,
				    uint32_t slot);

/* Removes a cgroup's entry; 0 also when it had none, or -1 with errno set. */
int tcpkeep_bpf_remove_cgroup_settings(int cgroups_fd, uint64_t cgroup_id);

/* The cgroup id after `previous` in the map's order (NULL: the first); 0, or
 * -1 with errno ENOENT after the last. */
int tcpkeep_bpf_next_cgroup(int cgroups_fd, const uint64_t *previous, uint64_t *next);

/* A counters slot, summed over the CPUs; 0, or -1 with errno set. */
int tcpkeep_bpf_read_slot_counters(int counters_fd, uint32_t slot, struct tcpkeep_bpf_counters *counters);

/* ---- the audit's socket holders iterator ---------------------------------
 *
 * Which process holds which socket, for tcpkeep audit: a BPF iterator
 * (bpf/socket_holders.bpf.c) over every process's open files writes one
 * record for each descriptor that is a socket, of any protocol, in any
 * network namespace.  It is not attached to anything and leaves nothing
 * behind: the program goes when the descriptor is closed. */

struct tcpkeep_bpf_socket_holder {
	uint64_t inode; /* the socket's inode (sock_diag's, /proc/net/tcp's) */
	uint32_t pid;   /* the process, in the initial PID namespace */
	uint32_t fd;    /* the descriptor */
};

/* Loads the iterator of `object` (bpf/socket_holders.bpf.c) with libbpf, its
 * field offsets relocated to the running kernel's BTF, and returns a descriptor to read() the records from until
 * it returns 0, then close.  Each read returns whole records when its size is
 * a multiple of the record's; EAGAIN means a million files passed without a
 * socket, and the next read goes on.  A process's file table is listed once;
 * a thread whose table is not its leader's (unshare(CLONE_FILES)) has that
 * table listed too, under the process's PID, and once the leader has exited
 * each remaining thread's is (measured on Linux 6.18): an inode
 * may come more than once, and a (pid, fd) may name a socket that
 * /proc/PID/fd does not show.  -1 with errno set and a message when the
 * iterator cannot be had:
 *   EPERM       neither root nor CAP_BPF with CAP_PERFMON;
 *   EOPNOTSUPP  this process is in a PID namespace other than the initial one
 *               (the records' PIDs would not be its own);
 *   ELIBACC     libbpf.so.1 cannot be opened (Debian's libbpf1);
 *   otherwise   libbpf or the kernel refused the program: no kernel BTF
 *               (CONFIG_DEBUG_INFO_BTF), no task_file iterator (Linux 5.8),
 *               no bpf_sock_from_file (Linux 5.11). */
int tcpkeep_bpf_open_socket_holders(struct tcpkeep_bpf_object object, char *error, size_t error_size);

#ifdef __cplusplus
}
#endif

#endif
