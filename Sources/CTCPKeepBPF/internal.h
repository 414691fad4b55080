/*
 * What the C files of CTCPKeepBPF share: their one-line messages, the check
 * of this process's capabilities, the map entries and counters.  Not part of
 * the API.
 */
#ifndef CTCPKEEPBPF_INTERNAL_H
#define CTCPKEEPBPF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "dynamic_libbpf.h"

#define INTERNAL __attribute__((visibility("hidden")))

#ifndef CAP_BPF
#define CAP_BPF 39
#endif
#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif

/* Who needs libbpf, for open_libbpf()'s message. */
#define KERNEL_MODE "kernel mode"

/* libbpf's first warning since capture_libbpf(), added to failure messages. */
INTERNAL extern char libbpf_line[256];

/* Keeps libbpf's first warning for the messages (or, verbose, lets libbpf
 * print everything to stderr) until release_libbpf(); returns what to pass it.
 * Only once open_libbpf() has succeeded. */
INTERNAL libbpf_print_fn_t capture_libbpf(int verbose);
INTERNAL void release_libbpf(libbpf_print_fn_t previous);

/* Writes "<message>: <strerror(errnum)>" (and libbpf's warning, if it gave
 * one) to `error`, sets errno to errnum and returns -1. */
INTERNAL int fail(char *error, size_t size, int errnum, const char *format, ...) __attribute__((format(printf, 4, 5)));

/* Like fail(), for a refusal rather than a failed call: no strerror text. */
INTERNAL int refuse(char *error, size_t size, int errnum, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

/* 1 when this process holds CAP_SYS_ADMIN, or every capability of the mask (bits
 * CAPABILITY(CAP_...)), in its effective set; 0 when not; -1 (message written)
 * when they cannot be read. */
#define CAPABILITY(number) (1ull << (number))
INTERNAL int holds_capabilities(unsigned long long mask, char *error, size_t size);

struct tcpkeep_map_value;
struct tcpkeep_bpf_values;
struct tcpkeep_bpf_counters;

/* The map entry for `values` (cgroup_id: the attachment's cgroup, or a cgroup
 * map entry's counters slot). */
INTERNAL void map_value_from(const struct tcpkeep_bpf_values *values, uint64_t cgroup_id,
			     struct tcpkeep_map_value *value);

/* Sums each CPU's copy of a slot of the counters map; 0, or -1 with errno set. */
INTERNAL int read_counters(int map_fd, uint32_t slot, struct tcpkeep_bpf_counters *sum);

#endif
