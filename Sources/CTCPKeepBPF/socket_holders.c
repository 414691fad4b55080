/*
 * The socket holders iterator's loader (bpf/socket_holders.bpf.c): which
 * process holds which socket, for tcpkeep audit.  The API is in
 * include/CTCPKeepBPF.h.
 *
 * libbpf's loader would parse the kernel's whole BTF (5 MB, about 10 ms
 * through sysfs's page-sized reads, then indexing) to relocate three field
 * offsets and find the iterator's BTF id, which the audit's --port target
 * cannot afford.  Here the BTF is mapped (Linux 6.16; read on older kernels),
 * its types indexed in one pass and searched for those four things; the
 * offsets are written into the program's instructions over its placeholders,
 * and the program is loaded with the bare bpf() commands.  libbpf only opens
 * the embedded object.
 */
#define _GNU_SOURCE
#include "CTCPKeepBPF.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/btf.h>

#include "../../bpf/socket_holders.h"
#include "internal.h"

_Static_assert(sizeof(struct tcpkeep_bpf_socket_holder) == sizeof(struct tcpkeep_socket_holder_record) &&
		       offsetof(struct tcpkeep_bpf_socket_holder, inode) ==
			       offsetof(struct tcpkeep_socket_holder_record, inode) &&
		       offsetof(struct tcpkeep_bpf_socket_holder, pid) ==
			       offsetof(struct tcpkeep_socket_holder_record, pid) &&
		       offsetof(struct tcpkeep_bpf_socket_holder, fd) == offsetof(struct tcpkeep_socket_holder_record, fd),
	       "the public record is the program's");

/* Generated at build time from bpf/embed.c.in: the compiled bpf/socket_holders.bpf.c. */
extern const unsigned char tcpkeep_socket_holders_object[] __attribute__((visibility("hidden")));
extern const unsigned long tcpkeep_socket_holders_object_size __attribute__((visibility("hidden")));

#define KERNEL_BTF "/sys/kernel/btf/vmlinux"
#define PROGRAM_NAME "tcpkeep_holders"
/* The program's license, as bpf/socket_holders.bpf.c declares it: the kernel
 * lets only GPL-compatible programs call bpf_seq_write(). */
#define PROGRAM_LICENSE "Dual BSD/GPL"
/* The inode number of the initial PID namespace (PROC_PID_INIT_INO). */
#define INITIAL_PID_NAMESPACE 0xEFFFFFFCu

/* ---- the kernel's BTF ---------------------------------------------------- */

struct kernel_btf {
	const unsigned char *data;
	size_t size;
	int mapped; /* data is mmap()ed; else malloc()ed */
	const char *strings;
	uint32_t strings_size;
	/* types[id] for id 1..count; types[0] is unused (id 0 is void). */
	const struct btf_type **types;
	uint32_t count;
};

static void release_btf(struct kernel_btf *btf)
{
	free(btf->types);
	if (btf->data != NULL) {
		if (btf->mapped)
			munmap((void *)btf->data, btf->size);
		else
			free((void *)btf->data);
	}
}

/* Maps the kernel's BTF, or reads it where sysfs cannot map it (before 6.16). */
static int open_btf(struct kernel_btf *btf, char *error, size_t size)
{
	int fd = open(KERNEL_BTF, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fail(error, size, errno, "opening %s (a kernel built without CONFIG_DEBUG_INFO_BTF has none)",
			    KERNEL_BTF);
	struct stat status;
	int sized = fstat(fd, &status) == 0;
	if (!sized || status.st_size <= (off_t)sizeof(struct btf_header)) {
		int saved = sized ? EINVAL : errno;
		close(fd);
		return fail(error, size, saved, "reading the size of %s", KERNEL_BTF);
	}
	btf->size = (size_t)status.st_size;
	void *mapped = mmap(NULL, btf->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (mapped != MAP_FAILED) {
		btf->data = mapped;
		btf->mapped = 1;
		close(fd);
		return 0;
	}
	unsigned char *buffer = malloc(btf->size);
	int code = buffer == NULL ? ENOMEM : EIO; /* EIO: the file ended early */
	size_t filled = 0;
	while (buffer != NULL && filled < btf->size) {
		ssize_t got = read(fd, buffer + filled, btf->size - filled);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			code = errno;
		if (got <= 0)
			break;
		filled += (size_t)got;
	}
	close(fd);
	if (buffer == NULL || filled != btf->size) {
		free(buffer);
		return fail(error, size, code, "reading %s", KERNEL_BTF);
	}
	btf->data = buffer;
	return 0;
}

/* The bytes that follow a type's struct btf_type; -1 for a kind this code
 * does not know, whose length it cannot tell. */
static long type_extra(const struct btf_type *type)
{
	long members = BTF_INFO_VLEN(type->info);
	switch (BTF_INFO_KIND(type->info)) {
	case BTF_KIND_INT:
		return sizeof(__u32);
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return members * (long)sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return members * (long)sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return members * (long)sizeof(struct btf_param);
	case BTF_KIND_VAR:
		return sizeof(struct btf_var);
	case BTF_KIND_DATASEC:
		return members * (long)sizeof(struct btf_var_secinfo);
	case BTF_KIND_DECL_TAG:
		return sizeof(struct btf_decl_tag);
	case BTF_KIND_ENUM64:
		return members * (long)sizeof(struct btf_enum64);
	default:
		return -1;
	}
}

/* Checks the header and indexes every type by its id. */
static int index_btf(struct kernel_btf *btf, char *error, size_t size)
{
	const struct btf_header *header = (const void *)btf->data;
	if (header->magic != BTF_MAGIC || header->hdr_len < sizeof *header || header->hdr_len > btf->size ||
	    (uint64_t)header->type_off + header->type_len > btf->size - header->hdr_len ||
	    (uint64_t)header->str_off + header->str_len > btf->size - header->hdr_len || header->str_len == 0)
		return refuse(error, size, EINVAL, "%s is not BTF this code can read", KERNEL_BTF);
	const unsigned char *sections = btf->data + header->hdr_len;
	btf->strings = (const char *)sections + header->str_off;
	btf->strings_size = header->str_len;
	if (btf->strings[btf->strings_size - 1] != '\0')
		return refuse(error, size, EINVAL, "the strings of %s are not terminated", KERNEL_BTF);

	/* Every type takes at least 12 bytes: this many ids at most. */
	size_t capacity = header->type_len / sizeof(struct btf_type) + 1;
	btf->types = malloc(capacity * sizeof *btf->types);
	if (btf->types == NULL)
		return fail(error, size, ENOMEM, "indexing %s", KERNEL_BTF);
	const unsigned char *next = sections + header->type_off;
	const unsigned char *end = next + header->type_len;
	while (next < end) {
		const struct btf_type *type = (const void *)next;
		long extra = end - next >= (long)sizeof *type ? type_extra(type) : -1;
		if (extra < 0 || (size_t)(end - next) < sizeof *type + (size_t)extra)
			return refuse(error, size, EINVAL, "%s has a type this code cannot read (id %u, kind %u)",
				      KERNEL_BTF, btf->count + 1, end - next >= (long)sizeof *type ? BTF_INFO_KIND(type->info) : 0);
		btf->types[++btf->count] = type;
		next += sizeof *type + (size_t)extra;
	}
	return 0;
}

static const char *type_name(const struct kernel_btf *btf, uint32_t name_offset)
{
	return name_offset < btf->strings_size ? btf->strings + name_offset : "";
}

/* The first type of `kind` named `name`; 0 when none is. */
static uint32_t find_type(const struct kernel_btf *btf, unsigned kind, const char *name)
{
	for (uint32_t id = 1; id <= btf->count; id++) {
		const struct btf_type *type = btf->types[id];
		if (BTF_INFO_KIND(type->info) == kind && strcmp(type_name(btf, type->name_off), name) == 0)
			return id;
	}
	return 0;
}

/* The type `id` stands for, past typedefs and qualifiers; NULL for void or a
 * bad id. */
static const struct btf_type *resolve(const struct kernel_btf *btf, uint32_t id)
{
	for (int depth = 0; depth < 32 && id != 0 && id <= btf->count; depth++) {
		const struct btf_type *type = btf->types[id];
		switch (BTF_INFO_KIND(type->info)) {
		case BTF_KIND_TYPEDEF:
		case BTF_KIND_VOLATILE:
		case BTF_KIND_CONST:
		case BTF_KIND_RESTRICT:
		case BTF_KIND_TYPE_TAG:
			id = type->type;
			break;
		default:
			return type;
		}
	}
	return NULL;
}

/* The byte offset of member `name` of the struct or union `type`, looking
 * into anonymous structs and unions; its type in *member_type.  -1 when it has
 * none, or it is a bit field. */
static long member_offset(const struct kernel_btf *btf, const struct btf_type *type, const char *name,
			  const struct btf_type **member_type, int depth)
{
	const struct btf_member *members = (const void *)(type + 1);
	for (unsigned i = 0; i < BTF_INFO_VLEN(type->info); i++) {
		uint32_t bits = BTF_INFO_KFLAG(type->info) ? BTF_MEMBER_BIT_OFFSET(members[i].offset) : members[i].offset;
		if (BTF_INFO_KFLAG(type->info) && BTF_MEMBER_BITFIELD_SIZE(members[i].offset) != 0)
			continue;
		const struct btf_type *resolved = resolve(btf, members[i].type);
		if (members[i].name_off == 0 && resolved != NULL && depth < 8 &&
		    (BTF_INFO_KIND(resolved->info) == BTF_KIND_STRUCT || BTF_INFO_KIND(resolved->info) == BTF_KIND_UNION)) {
			long inner = member_offset(btf, resolved, name, member_type, depth + 1);
			if (inner >= 0 && bits % 8 == 0)
				return (long)(bits / 8) + inner;
		} else if (bits % 8 == 0 && strcmp(type_name(btf, members[i].name_off), name) == 0) {
			*member_type = resolved;
			return bits / 8;
		}
	}
	return -1;
}

/* One field the program reads: where the loader finds it, what it must be. */
struct field {
	const char *structure;
	const char *member;
	unsigned kind;     /* BTF_KIND_INT or BTF_KIND_PTR */
	uint32_t int_size; /* for BTF_KIND_INT: the size the program reads */
	__s16 placeholder;
	__s16 offset; /* found */
};

static int find_field(const struct kernel_btf *btf, struct field *field, char *error, size_t size)
{
	uint32_t id = find_type(btf, BTF_KIND_STRUCT, field->structure);
	const struct btf_type *member = NULL;
	long offset = id == 0 ? -1 : member_offset(btf, btf->types[id], field->member, &member, 0);
	if (offset < 0 || member == NULL)
		return refuse(error, size, EOPNOTSUPP, "the kernel's BTF has no struct %s with a field %s",
			      field->structure, field->member);
	if (BTF_INFO_KIND(member->info) != field->kind ||
	    (field->kind == BTF_KIND_INT && member->size != field->int_size))
		return refuse(error, size, EOPNOTSUPP, "struct %s's %s is not of the type the program reads",
			      field->structure, field->member);
	if (offset >= TCPKEEP_HOLDER_PLACEHOLDERS)
		return refuse(error, size, EOPNOTSUPP, "struct %s's %s is beyond the offsets the program can read (%ld)",
			      field->structure, field->member, offset);
	field->offset = (__s16)offset;
	return 0;
}

/* ---- the program --------------------------------------------------------- */

/* Writes each field's offset over the load instructions that read it at its
 * placeholder; every field must be read by one at least. */
static int place_offsets(struct bpf_insn *instructions, size_t count, const struct field *fields, size_t field_count,
			 char *error, size_t size)
{
	for (size_t f = 0; f < field_count; f++) {
		int placed = 0;
		for (size_t i = 0; i < count; i++) {
			if (BPF_CLASS(instructions[i].code) == BPF_LDX && BPF_MODE(instructions[i].code) == BPF_MEM &&
			    instructions[i].off == fields[f].placeholder) {
				instructions[i].off = fields[f].offset;
				placed++;
			}
		}
		if (placed == 0)
			return refuse(error, size, EINVAL, "the embedded program does not read %s's %s where expected",
				      fields[f].structure, fields[f].member);
	}
	return 0;
}

/* Loads the program; on the kernel's refusal, the verifier's last line goes
 * in the message. */
static int load_program(const struct bpf_insn *instructions, size_t count, uint32_t attach_id, char *error,
			size_t size)
{
	LIBBPF_OPTS(bpf_prog_load_opts, options, .expected_attach_type = BPF_TRACE_ITER, .attach_btf_id = attach_id);
	int program = bpf_prog_load(BPF_PROG_TYPE_TRACING, PROGRAM_NAME, PROGRAM_LICENSE, instructions, count, &options);
	if (program >= 0)
		return program;
	int saved = errno;
	const unsigned log_size = 1 << 16;
	char *log = calloc(1, log_size);
	char *last = NULL;
	if (log != NULL) {
		options.log_level = 1;
		options.log_buf = log;
		options.log_size = log_size;
		program = bpf_prog_load(BPF_PROG_TYPE_TRACING, PROGRAM_NAME, PROGRAM_LICENSE, instructions, count, &options);
		if (program >= 0) /* refused once, taken the second time */
			goto done;
		char *rest = NULL;
		for (char *line = strtok_r(log, "\n", &rest); line != NULL; line = strtok_r(NULL, "\n", &rest))
			last = line;
	}
	fail(error, size, saved, "the kernel refused the socket holders iterator%s%s%s", last ? " (" : "", last ? last : "",
	     last ? ")" : "");
done:
	free(log);
	return program;
}

/* The iterator's descriptor, or -1 (errno set, message written). */
static int open_iterator(char *error, size_t size)
{
	int held = holds_capabilities(CAP_BPF, CAP_PERFMON, error, size);
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

	struct field fields[] = {
		{"task_struct", "tgid", BTF_KIND_INT, 4, TCPKEEP_HOLDER_TASK_TGID, 0},
		{"file", "f_inode", BTF_KIND_PTR, 0, TCPKEEP_HOLDER_FILE_INODE, 0},
		{"inode", "i_ino", BTF_KIND_INT, 8, TCPKEEP_HOLDER_INODE_INO, 0},
	};
	const size_t field_count = sizeof fields / sizeof fields[0];
	struct kernel_btf btf = {0};
	struct bpf_object *object = NULL;
	struct bpf_insn *instructions = NULL;
	int program = -1, link = -1, iterator = -1;
	uint32_t attach_id = 0;
	if (open_btf(&btf, error, size) != 0 || index_btf(&btf, error, size) != 0)
		goto out;
	attach_id = find_type(&btf, BTF_KIND_FUNC, "bpf_iter_task_file");
	if (attach_id == 0) {
		refuse(error, size, EOPNOTSUPP, "this kernel has no task_file BPF iterator (Linux 5.8)");
		goto out;
	}
	for (size_t f = 0; f < field_count; f++)
		if (find_field(&btf, &fields[f], error, size) != 0)
			goto out;

	LIBBPF_OPTS(bpf_object_open_opts, open_options, .object_name = PROGRAM_NAME);
	object = bpf_object__open_mem(tcpkeep_socket_holders_object, tcpkeep_socket_holders_object_size, &open_options);
	struct bpf_program *found = object ? bpf_object__find_program_by_name(object, PROGRAM_NAME) : NULL;
	if (found == NULL) {
		fail(error, size, errno ? errno : ENOENT, "opening the embedded socket holders object");
		goto out;
	}
	size_t count = bpf_program__insn_cnt(found);
	instructions = malloc(count * sizeof *instructions);
	if (instructions == NULL) {
		fail(error, size, ENOMEM, "copying the socket holders program");
		goto out;
	}
	memcpy(instructions, bpf_program__insns(found), count * sizeof *instructions);
	if (place_offsets(instructions, count, fields, field_count, error, size) != 0)
		goto out;
	program = load_program(instructions, count, attach_id, error, size);
	if (program < 0)
		goto out;
	link = bpf_link_create(program, 0, BPF_TRACE_ITER, NULL);
	if (link < 0) {
		fail(error, size, errno, "attaching the socket holders iterator");
		goto out;
	}
	/* The iterator's descriptor holds the link, and the link the program. */
	iterator = bpf_iter_create(link);
	if (iterator < 0)
		fail(error, size, errno, "creating the socket holders iterator");
out:;
	int saved = errno;
	if (link >= 0)
		close(link);
	if (program >= 0)
		close(program);
	free(instructions);
	bpf_object__close(object);
	release_btf(&btf);
	errno = saved;
	return iterator;
}

int tcpkeep_bpf_open_socket_holders(char *error, size_t size)
{
	libbpf_print_fn_t previous = capture_libbpf(0);
	int iterator = open_iterator(error, size);
	int saved = errno;
	release_libbpf(previous);
	errno = saved;
	return iterator;
}
