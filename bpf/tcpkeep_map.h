/*
 * The value of tcpkeep's one-entry array map, shared by the BPF programs
 * (bpf/tcpkeep.bpf.c) and their loader (Sources/CTCPKeepBPF/loader.c).
 *
 * The loader writes the whole entry; the programs only read it.  A live
 * attachment is reconfigured by rewriting this entry: the next connect() or
 * accepted connection in the cgroup sees the new values, nothing is reloaded.
 */
#ifndef TCPKEEP_MAP_H
#define TCPKEEP_MAP_H

#include <linux/types.h>

/* Bits of `configured`: which values are set on each socket.  SO_KEEPALIVE is
 * always turned on.  A value whose bit is clear is left to the system (the
 * net.ipv4.tcp_keepalive_* sysctls); TCP_USER_TIMEOUT needs its own bit
 * because 0 is a value a user may configure (the system default). */
#define TCPKEEP_MAP_IDLE (1u << 0)         /* TCP_KEEPIDLE, seconds, 1..32767 */
#define TCPKEEP_MAP_INTERVAL (1u << 1)     /* TCP_KEEPINTVL, seconds, 1..32767 */
#define TCPKEEP_MAP_COUNT (1u << 2)        /* TCP_KEEPCNT, probes, 1..127 */
#define TCPKEEP_MAP_USER_TIMEOUT (1u << 3) /* TCP_USER_TIMEOUT, ms, >= 0 */
#define TCPKEEP_MAP_ALL (TCPKEEP_MAP_IDLE | TCPKEEP_MAP_INTERVAL | TCPKEEP_MAP_COUNT | TCPKEEP_MAP_USER_TIMEOUT)

/* In the one entry of the values map only: the settings of each socket come
 * from the cgroup map, `tcpkeep_cgroups` (the agent's mode), by the cgroup of
 * the process that connects or listens: the entry of its cgroup or, failing
 * that, of its nearest ancestor that has one.  A socket none covers is left
 * alone.  The entry's other values are then unused, but for page_size. */
#define TCPKEEP_MAP_BY_CGROUP (1u << 31)

/* The cgroup map: a hash map keyed by cgroup id (a __u64, the cgroup v2
 * directory's inode number) whose values are struct tcpkeep_map_value, there
 * `cgroup_id` holding the entry's counters slot, 1..TCPKEEP_MAP_SLOTS-1 (0
 * for none).  Entries are made as they are written, not before (no
 * preallocation). */
#define TCPKEEP_MAP_CGROUPS 65536

/* Counter slots: the counters map has this many entries.  Slot 0 counts what
 * no cgroup map entry names (every socket, outside the agent's mode); the
 * agent gives each policy entry a slot of its own. */
#define TCPKEEP_MAP_SLOTS 256

/* How many levels of the cgroup tree the program looks at, from the root. */
#define TCPKEEP_MAP_MAX_DEPTH 32

/* `layout` holds this while the entry is valid.  The programs do nothing while
 * it differs (a zero-filled entry, or an entry written by another layout), and
 * the loader refuses to update pins whose layout it does not know. */
#define TCPKEEP_MAP_LAYOUT 0x746b0001u /* "tk", version 1 */

struct tcpkeep_map_value {
	__u32 layout;
	__u32 configured; /* TCPKEEP_MAP_* bits */
	__s32 idle;
	__s32 interval;
	__s32 count;
	__s32 user_timeout;
	__u32 enforce;    /* 1: loosening a value with setsockopt() is rewritten */
	__u32 page_size;  /* the kernel's limit on a cgroup/setsockopt buffer */
	__u64 cgroup_id;  /* the cgroup the programs are attached to, for status */
};

/* The value of the counters map, a per-CPU array of TCPKEEP_MAP_SLOTS entries
 * beside the values map (pins made before the agent have one): each CPU adds
 * to its own copy without a lock, and the loader sums the copies.  Only the programs write it; it starts at zero with the attachment
 * and keeps counting across changes of the values. */
struct tcpkeep_map_counters {
	__u64 configured_active;  /* connections given keepalive at connect() */
	__u64 configured_passive; /* accepted connections given keepalive, or accepted by a
				     listener tcpkeep configured (they inherit it) */
	__u64 kept;               /* connections left as the program made them: keepalive
				     already on, no enforce */
	__u64 enforced;           /* setsockopt() calls rewritten by enforce */
	__u64 timed_out;          /* established connections tcpkeep configured or kept
				     that ended with ETIMEDOUT: a dead peer found by
				     keepalive, the user timeout or retransmissions */
};

#endif
