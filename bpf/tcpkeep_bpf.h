/*
 * What tcpkeep's BPF programs need from a BPF library, declared here so that
 * building them needs no libbpf-dev: the section and map-definition macros
 * libbpf's loader reads, and the kernel helpers they call, each by its id in
 * <linux/bpf.h>'s enum bpf_func_id (the kernel's ABI, from linux-libc-dev,
 * which libc6-dev brings).  Kernel types a program reads are declared where
 * it reads them, with preserve_access_index, so that libbpf relocates their
 * field offsets to the running kernel's (CO-RE).
 */
#ifndef TCPKEEP_BPF_H
#define TCPKEEP_BPF_H

#include <linux/bpf.h>

/* The ELF section of a program or map, which tells libbpf its type. */
#define SEC(name) __attribute__((section(name), used))

/* A BTF-defined map's attributes (libbpf's ".maps" convention): a number is
 * carried by an array type's length, a type by a pointer's. */
#define __uint(name, value) int(*name)[value]
#define __type(name, value) __typeof__(value) *name

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

#ifndef NULL
#define NULL ((void *)0)
#endif

struct socket;
struct file;
struct seq_file;
struct tcp_sock;

static void *(*const bpf_map_lookup_elem)(void *map, const void *key) = (void *)BPF_FUNC_map_lookup_elem;
static long (*const bpf_setsockopt)(void *context, int level, int optname, void *value, int length) =
	(void *)BPF_FUNC_setsockopt;
static long (*const bpf_getsockopt)(void *context, int level, int optname, void *value, int length) =
	(void *)BPF_FUNC_getsockopt;
static long (*const bpf_seq_write)(struct seq_file *seq, const void *data, __u32 length) = (void *)BPF_FUNC_seq_write;
static struct socket *(*const bpf_sock_from_file)(struct file *file) = (void *)BPF_FUNC_sock_from_file;
static long (*const bpf_sock_ops_cb_flags_set)(struct bpf_sock_ops *context, int flags) =
	(void *)BPF_FUNC_sock_ops_cb_flags_set;
static struct tcp_sock *(*const bpf_skc_to_tcp_sock)(void *sk) = (void *)BPF_FUNC_skc_to_tcp_sock;
static __u64 (*const bpf_get_current_ancestor_cgroup_id)(int level) = (void *)BPF_FUNC_get_current_ancestor_cgroup_id;
static void *(*const bpf_sk_storage_get)(void *map, void *sk, void *value, __u64 flags) = (void *)BPF_FUNC_sk_storage_get;
static long (*const bpf_probe_read_kernel)(void *destination, __u32 size, const void *source) =
	(void *)BPF_FUNC_probe_read_kernel;

/* CO-RE, as libbpf's bpf_core_read.h spells it: the running kernel's value of
 * an enumerator, the size of a type, and a read of a kernel field through a
 * pointer the verifier does not let a program follow directly. */
#define BPF_CORE_ENUM_VALUE(type, enumerator) __builtin_preserve_enum_value(*(type *)enumerator, 1)
#define BPF_CORE_TYPE_SIZE(type) __builtin_preserve_type_info(*(type *)0, 1)
#define BPF_CORE_READ_INTO(destination, field)                                                              \
	bpf_probe_read_kernel(&(destination), sizeof(destination), __builtin_preserve_access_index(&(field)))

#endif
