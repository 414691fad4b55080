/*
 * The part of libbpf that CTCPKeepBPF calls, declared here and resolved at
 * run time from libbpf.so.1 (dlopen, as systemd does), so that building
 * tcpkeep needs no libbpf-dev and running it needs libbpf1 for kernel mode
 * and the audit's iterator only.  The declarations follow libbpf 1.x's
 * <bpf/libbpf.h> and <bpf/bpf.h>; every function here exists since libbpf
 * 0.7.  Calls go through the table: libbpf.bpf_obj_get(path).  Not part of
 * the API.
 */
#ifndef CTCPKEEPBPF_DYNAMIC_LIBBPF_H
#define CTCPKEEPBPF_DYNAMIC_LIBBPF_H

#include <stdarg.h>
#include <stddef.h>

#include <linux/bpf.h>

#define LIBBPF_SONAME "libbpf.so.1"

enum libbpf_print_level {
	LIBBPF_WARN,
	LIBBPF_INFO,
	LIBBPF_DEBUG,
};

typedef int (*libbpf_print_fn_t)(enum libbpf_print_level level, const char *format, va_list args);

/* Opaque: only libbpf knows their layout. */
struct bpf_object;
struct bpf_program;
struct bpf_map;
struct bpf_link;

/* Every function, as (result, name, parameters).  The options arguments are
 * always NULL here (libbpf's defaults), hence `const void *`. */
#define LIBBPF_FUNCTIONS(F)                                                                                 \
	F(libbpf_print_fn_t, libbpf_set_print, (libbpf_print_fn_t print))                                   \
	F(struct bpf_object *, bpf_object__open_mem, (const void *bytes, size_t size, const void *options)) \
	F(int, bpf_object__load, (struct bpf_object * object))                                              \
	F(void, bpf_object__close, (struct bpf_object * object))                                            \
	F(struct bpf_map *, bpf_object__find_map_by_name, (const struct bpf_object *object, const char *name)) \
	F(struct bpf_program *, bpf_object__find_program_by_name,                                           \
	  (const struct bpf_object *object, const char *name))                                              \
	F(int, bpf_map__fd, (const struct bpf_map *map))                                                    \
	F(int, bpf_program__fd, (const struct bpf_program *program))                                        \
	F(int, bpf_program__set_autoload, (struct bpf_program * program, _Bool autoload))                  \
	F(int, bpf_raw_tracepoint_open, (const char *name, int program_fd))                                 \
	F(struct bpf_link *, bpf_program__attach_iter, (const struct bpf_program *program, const void *options)) \
	F(int, bpf_link__fd, (const struct bpf_link *link))                                                 \
	F(int, bpf_link__destroy, (struct bpf_link * link))                                                 \
	F(int, bpf_iter_create, (int link_fd))                                                              \
	F(int, bpf_obj_get, (const char *path))                                                             \
	F(int, bpf_obj_pin, (int fd, const char *path))                                                     \
	F(int, bpf_obj_get_info_by_fd, (int fd, void *info, __u32 *length))                                \
	F(int, bpf_prog_get_fd_by_id, (__u32 id))                                                           \
	F(int, bpf_prog_attach, (int program_fd, int target_fd, enum bpf_attach_type type, unsigned int flags)) \
	F(int, bpf_prog_detach2, (int program_fd, int target_fd, enum bpf_attach_type type))                \
	F(int, bpf_prog_query,                                                                              \
	  (int target_fd, enum bpf_attach_type type, __u32 query_flags, __u32 *attach_flags, __u32 *ids,   \
	   __u32 *count))                                                                                   \
	F(int, bpf_map_update_elem, (int fd, const void *key, const void *value, __u64 flags))             \
	F(int, bpf_map_lookup_elem, (int fd, const void *key, void *value))                                 \
	F(int, bpf_map_delete_elem, (int fd, const void *key))                                              \
	F(int, bpf_map_get_next_key, (int fd, const void *key, void *next_key))                             \
	F(int, libbpf_probe_bpf_prog_type, (enum bpf_prog_type type, const void *options))                  \
	F(int, libbpf_probe_bpf_helper, (enum bpf_prog_type type, enum bpf_func_id helper, const void *options)) \
	F(int, libbpf_num_possible_cpus, (void))

struct libbpf_functions {
#define LIBBPF_POINTER(result, name, parameters) result(*name) parameters;
	LIBBPF_FUNCTIONS(LIBBPF_POINTER)
#undef LIBBPF_POINTER
};

/* Filled by open_libbpf(); all NULL until it succeeds. */
extern struct libbpf_functions libbpf __attribute__((visibility("hidden")));

/* Opens libbpf.so.1 and resolves every function above, once a process
 * (thread-safe).  0, or -1 with errno ELIBACC and "<user> needs libbpf
 * (Debian/Ubuntu package libbpf1): <why>" in `error`. */
__attribute__((visibility("hidden"))) int open_libbpf(const char *user, char *error, size_t size);

#endif
