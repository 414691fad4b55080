/*
 * tcpkeep's kernel mode loader: loads the BPF object its caller embedded at
 * build time (see bpf/tcpkeep.bpf.c and Plugins/BuildBPF), pins it, attaches it to a
 * cgroup v2 directory, updates, reads back and detaches it.  The API and its
 * conventions are in include/CTCPKeepBPF.h.
 */
#define _GNU_SOURCE
#include "CTCPKeepBPF.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <mntent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h> /* CAP_NET_ADMIN */
#include <linux/magic.h>

#include "../../bpf/tcpkeep_map.h"
#include "internal.h"

/* The file handle type of kernfs (cgroupfs) objects: the 64-bit cgroup id. */
#define FILEID_KERNFS 0xfe

#define BPFFS_MOUNT_POINT "/sys/fs/bpf"
#define PIN_VALUES "values"
#define PIN_COUNTERS "counters"
#define PIN_CGROUPS "cgroups"
#define PIN_SOCKOPS "sock_ops"
#define PIN_SETSOCKOPT "setsockopt"
#define PIN_TIMEOUTS "timeouts" /* the link of the timeouts program to its tracepoint */
#define PIN_SELF "self"         /* the sock_ops program's id, for the timeouts program */
/* Program names as the kernel keeps them (at most 15 characters). */
#define SOCKOPS_NAME "tcpkeep_sockops"
#define SETSOCKOPT_NAME "tcpkeep_setopt"
#define TIMEOUTS_NAME "tcpkeep_timeouts"
#define MAP_NAME "tcpkeep_values"
#define COUNTERS_NAME "tcpkeep_counts"
#define CGROUPS_NAME "tcpkeep_cgroups"
#define SELF_NAME "tcpkeep_self"

_Static_assert(sizeof(struct tcpkeep_bpf_counters) == sizeof(struct tcpkeep_map_counters),
	       "the public counters are the map's");
_Static_assert(TCPKEEP_BPF_IDLE == TCPKEEP_MAP_IDLE && TCPKEEP_BPF_INTERVAL == TCPKEEP_MAP_INTERVAL &&
		       TCPKEEP_BPF_COUNT == TCPKEEP_MAP_COUNT &&
		       TCPKEEP_BPF_USER_TIMEOUT == TCPKEEP_MAP_USER_TIMEOUT && TCPKEEP_BPF_BY_CGROUP == TCPKEEP_MAP_BY_CGROUP &&
		       TCPKEEP_BPF_COUNTER_SLOTS == TCPKEEP_MAP_SLOTS,
	       "the public mask bits are the map's");

int tcpkeep_bpf_open_libbpf(char *error, size_t size)
{
	return open_libbpf(KERNEL_MODE, error, size);
}

static int join_path(char *out, const char *directory, const char *name)
{
	int length = snprintf(out, PATH_MAX, "%s/%s", directory, name);
	return length > 0 && length < PATH_MAX ? 0 : -1;
}

/* ---- privileges, mounts, cgroups ----------------------------------------- */

static int check_privileges(char *error, size_t size)
{
	/* CAP_PERFMON: the programs read kernel structures through BTF pointers. */
	int held = holds_capabilities(CAPABILITY(CAP_BPF) | CAPABILITY(CAP_PERFMON) | CAPABILITY(CAP_NET_ADMIN), error, size);
	if (held != 0)
		return held > 0 ? 0 : -1;
	return refuse(error, size, EPERM,
		      "not privileged: kernel mode loads and attaches BPF programs, which needs root, or "
		      "the capabilities CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN");
}

/* The first cgroup2 mount point in /proc/self/mounts. */
static int find_cgroup2_mount(char *mount_point, size_t size, char *error, size_t error_size)
{
	FILE *mounts = setmntent("/proc/self/mounts", "re");
	if (mounts == NULL)
		return fail(error, error_size, errno, "reading /proc/self/mounts");
	struct mntent *entry;
	int found = 0;
	while ((entry = getmntent(mounts)) != NULL) {
		if (strcmp(entry->mnt_type, "cgroup2") == 0) {
			found = snprintf(mount_point, size, "%s", entry->mnt_dir) < (int)size;
			break;
		}
	}
	endmntent(mounts);
	if (!found)
		return refuse(error, error_size, ENOENT,
			      "no cgroup v2 hierarchy is mounted (no cgroup2 line in /proc/self/mounts); "
			      "mount one with: mount -t cgroup2 none /sys/fs/cgroup");
	return 0;
}

static int cgroup_id_of(int fd, uint64_t *id)
{
	struct {
		struct file_handle handle;
		unsigned char bytes[sizeof(uint64_t)];
	} h;
	int mount_id;
	h.handle.handle_bytes = sizeof(uint64_t);
	if (name_to_handle_at(fd, "", &h.handle, &mount_id, AT_EMPTY_PATH) == 0 &&
	    h.handle.handle_bytes == sizeof(uint64_t)) {
		memcpy(id, h.handle.f_handle, sizeof *id);
		return 0;
	}
	/* A cgroup2 directory's inode number is its id on 64-bit kernels. */
	struct stat st;
	if (fstat(fd, &st) != 0)
		return -1;
	*id = (uint64_t)st.st_ino;
	return 0;
}

/* Opens a cgroup v2 directory; the failure says which check failed and how
 * preflight classifies it. */
static int open_cgroup(const char *path, int *fd_out, uint64_t *id_out, enum tcpkeep_bpf_problem *problem,
		       char *error, size_t size)
{
	char mount_point[PATH_MAX];
	*problem = TCPKEEP_BPF_NO_CGROUP2;
	if (find_cgroup2_mount(mount_point, sizeof mount_point, error, size) != 0)
		return -1;
	*problem = TCPKEEP_BPF_CGROUP_MISSING;
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return refuse(error, size, ENOENT,
			      "cgroup %s does not exist: create it under the cgroup v2 mount (%s) with mkdir, "
			      "or name an existing one",
			      path, mount_point);
	*problem = TCPKEEP_BPF_NOT_CGROUP2;
	if (fd < 0 && errno == ENOTDIR)
		return refuse(error, size, ENOTDIR, "%s is not a directory, so not a cgroup v2 directory (under %s)",
			      path, mount_point);
	if (fd < 0)
		return fail(error, size, errno, "opening cgroup %s", path);
	struct statfs fs;
	if (fstatfs(fd, &fs) != 0) {
		int saved = errno;
		close(fd);
		return fail(error, size, saved, "statfs on cgroup %s", path);
	}
	if ((unsigned long)fs.f_type != CGROUP2_SUPER_MAGIC) {
		close(fd);
		if ((unsigned long)fs.f_type == CGROUP_SUPER_MAGIC)
			return refuse(error, size, EINVAL,
				      "%s is in a cgroup v1 hierarchy: kernel mode attaches to cgroup v2 "
				      "directories, under %s",
				      path, mount_point);
		return refuse(error, size, EINVAL,
			      "%s is not on the cgroup v2 file system (statfs type 0x%lx): name a directory "
			      "under %s",
			      path, (unsigned long)fs.f_type, mount_point);
	}
	if (id_out != NULL && cgroup_id_of(fd, id_out) != 0) {
		int saved = errno;
		close(fd);
		return fail(error, size, saved, "reading the id of cgroup %s", path);
	}
	*fd_out = fd;
	return 0;
}

/* Where an id's cgroup is; nftw() has no context argument. */
static uint64_t wanted_cgroup_id;
static char *found_cgroup_path;
static size_t found_cgroup_path_size;

static int match_cgroup(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)ftw;
	if (type == FTW_D && (uint64_t)st->st_ino == wanted_cgroup_id) {
		snprintf(found_cgroup_path, found_cgroup_path_size, "%s", path);
		return 1;
	}
	return 0;
}

/* Opens the cgroup with this id and writes its path.  -1 when it is gone. */
static int open_cgroup_by_id(uint64_t id, char *path, size_t path_size)
{
	char mount_point[PATH_MAX];
	if (find_cgroup2_mount(mount_point, sizeof mount_point, NULL, 0) != 0)
		return -1;
	int mount_fd = open(mount_point, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return -1;
	struct {
		struct file_handle handle;
		unsigned char bytes[sizeof(uint64_t)];
	} h;
	h.handle.handle_bytes = sizeof id;
	h.handle.handle_type = FILEID_KERNFS;
	memcpy(h.handle.f_handle, &id, sizeof id);
	/* Needs CAP_DAC_READ_SEARCH; otherwise walk the hierarchy. */
	int fd = open_by_handle_at(mount_fd, &h.handle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	close(mount_fd);
	char link[64], found[PATH_MAX];
	if (fd >= 0) {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t length = readlink(link, found, sizeof found - 1);
		found[length > 0 ? length : 0] = '\0';
	} else if (errno != ESTALE) {
		found[0] = '\0';
		wanted_cgroup_id = id;
		found_cgroup_path = found;
		found_cgroup_path_size = sizeof found;
		if (nftw(mount_point, match_cgroup, 16, FTW_PHYS | FTW_MOUNT) == 1)
			fd = open(found, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	uint64_t check;
	if (fd >= 0 && (cgroup_id_of(fd, &check) != 0 || check != id)) {
		close(fd);
		fd = -1;
	}
	if (path != NULL && path_size > 0)
		snprintf(path, path_size, "%s", fd >= 0 ? found : "");
	return fd;
}

/* Checks that pin_directory, or its nearest existing parent, is on bpffs;
 * with `mount_it`, mounts bpffs at /sys/fs/bpf first when the directory is
 * under it and nothing is mounted there yet. */
static int check_bpffs(const char *pin_directory, int mount_it, char *error, size_t size)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof path, "%s", pin_directory) >= (int)sizeof path)
		return refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", pin_directory);
	struct statfs fs;
	while (statfs(path, &fs) != 0) {
		char *slash = strrchr(path, '/');
		if (errno != ENOENT || slash == NULL)
			return fail(error, size, errno, "statfs on %s", path);
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	if ((unsigned long)fs.f_type == BPF_FS_MAGIC)
		return 0;
	size_t root_length = strlen(BPFFS_MOUNT_POINT);
	int under_root = strncmp(pin_directory, BPFFS_MOUNT_POINT, root_length) == 0 &&
			 (pin_directory[root_length] == '/' || pin_directory[root_length] == '\0');
	if (mount_it && under_root && strcmp(path, BPFFS_MOUNT_POINT) == 0) {
		if (mount("bpf", BPFFS_MOUNT_POINT, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RELATIME,
			  "mode=0700") != 0)
			return fail(error, size, errno, "mounting bpffs at " BPFFS_MOUNT_POINT);
		return 0;
	}
	if (under_root)
		return refuse(error, size, ENOENT,
			      "bpffs is not mounted at " BPFFS_MOUNT_POINT ", where the programs are pinned: "
			      "mount it with: mount -t bpf bpf " BPFFS_MOUNT_POINT);
	return refuse(error, size, EINVAL,
		      "pin directory %s is not on bpffs (%s has statfs type 0x%lx): pins live on a bpf file "
		      "system, normally " BPFFS_MOUNT_POINT " (mount -t bpf bpf " BPFFS_MOUNT_POINT ")",
		      pin_directory, path, (unsigned long)fs.f_type);
}

/* ---- programs, pins, attachments ----------------------------------------- */

static int program_info(int fd, struct bpf_prog_info *info)
{
	__u32 length = sizeof *info;
	memset(info, 0, sizeof *info);
	return libbpf.bpf_obj_get_info_by_fd(fd, info, &length);
}

/* 1 when program `id` is attached directly to the cgroup at `type` (or, with
 * BPF_F_QUERY_EFFECTIVE in query_flags, runs there, attached to it or an ancestor). */
static int query_attached(int cgroup_fd, enum bpf_attach_type type, __u32 query_flags, __u32 id, int *attached)
{
	__u32 ids[64], count = 64, flags = 0;
	if (libbpf.bpf_prog_query(cgroup_fd, type, query_flags, &flags, ids, &count) != 0)
		return -1;
	*attached = 0;
	for (__u32 i = 0; i < count; i++)
		if (ids[i] == id)
			*attached = 1;
	return 0;
}

static int is_attached(int cgroup_fd, enum bpf_attach_type type, __u32 id, int *attached)
{
	return query_attached(cgroup_fd, type, 0, id, attached);
}

int tcpkeep_bpf_runs_in(const char *cgroup_path, uint32_t sockops_program_id, int *runs, char *error, size_t size)
{
	if (open_libbpf(KERNEL_MODE, error, size) != 0)
		return -1;
	int fd = open(cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return fail(error, size, errno, "opening cgroup %s", cgroup_path);
	int result = query_attached(fd, BPF_CGROUP_SOCK_OPS, BPF_F_QUERY_EFFECTIVE, sockops_program_id, runs);
	if (result != 0)
		fail(error, size, errno, "querying the sock_ops programs that run in cgroup %s", cgroup_path);
	int saved = errno;
	close(fd);
	errno = saved;
	return result;
}

/* The id of a tcpkeep sock_ops program attached to the cgroup that is not
 * `own`, or 0.  Reading other programs' names needs CAP_SYS_ADMIN; without
 * it the check finds nothing. */
static __u32 other_tcpkeep_program(int cgroup_fd, __u32 own)
{
	__u32 ids[64], count = 64, flags = 0;
	if (libbpf.bpf_prog_query(cgroup_fd, BPF_CGROUP_SOCK_OPS, 0, &flags, ids, &count) != 0)
		return 0;
	for (__u32 i = 0; i < count; i++) {
		if (ids[i] == own)
			continue;
		int fd = libbpf.bpf_prog_get_fd_by_id(ids[i]);
		if (fd < 0)
			continue;
		struct bpf_prog_info info;
		int same = program_info(fd, &info) == 0 && strcmp(info.name, SOCKOPS_NAME) == 0;
		close(fd);
		if (same)
			return ids[i];
	}
	return 0;
}

/* tcpkeep's three pins in one directory, opened and checked. */
struct pins {
	int map, sockops, setsockopt;
	int counters; /* -1 for pins made before the counters */
	__u32 map_id, sockops_id, setsockopt_id;
	struct tcpkeep_map_value value;
};

static void close_pins(struct pins *pins)
{
	if (pins->map >= 0)
		close(pins->map);
	if (pins->sockops >= 0)
		close(pins->sockops);
	if (pins->setsockopt >= 0)
		close(pins->setsockopt);
	if (pins->counters >= 0)
		close(pins->counters);
	pins->map = pins->sockops = pins->setsockopt = pins->counters = -1;
}

static int open_program_pin(const char *directory, const char *name, enum bpf_prog_type type,
			    const char *program, int *fd_out, __u32 *id_out, char *error, size_t size)
{
	char path[PATH_MAX];
	if (join_path(path, directory, name) != 0)
		return refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", directory);
	int fd = libbpf.bpf_obj_get(path);
	if (fd < 0)
		return fail(error, size, errno, "opening pinned program %s", path);
	struct bpf_prog_info info;
	if (program_info(fd, &info) != 0 || info.type != type || strcmp(info.name, program) != 0) {
		close(fd);
		return refuse(error, size, EINVAL, "%s is not tcpkeep's %s program", path, program);
	}
	*fd_out = fd;
	*id_out = info.id;
	return 0;
}

static int open_pins(const char *directory, struct pins *pins, char *error, size_t size)
{
	char path[PATH_MAX];
	pins->map = pins->sockops = pins->setsockopt = pins->counters = -1;
	if (join_path(path, directory, PIN_VALUES) != 0)
		return refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", directory);
	pins->map = libbpf.bpf_obj_get(path);
	if (pins->map < 0)
		return fail(error, size, errno, "opening pinned map %s", path);
	struct bpf_map_info info;
	__u32 length = sizeof info;
	memset(&info, 0, sizeof info);
	__u32 key = 0;
	if (libbpf.bpf_obj_get_info_by_fd(pins->map, &info, &length) != 0 || info.type != BPF_MAP_TYPE_ARRAY ||
	    info.value_size != sizeof pins->value || info.max_entries != 1 ||
	    libbpf.bpf_map_lookup_elem(pins->map, &key, &pins->value) != 0 ||
	    pins->value.layout != TCPKEEP_MAP_LAYOUT) {
		close_pins(pins);
		return refuse(error, size, EINVAL,
			      "%s is not a values map of this version of tcpkeep: detach it with the tcpkeep "
			      "that attached it, or remove the pins and detach its programs with bpftool",
			      path);
	}
	pins->map_id = info.id;
	if (open_program_pin(directory, PIN_SOCKOPS, BPF_PROG_TYPE_SOCK_OPS, SOCKOPS_NAME, &pins->sockops,
			     &pins->sockops_id, error, size) != 0 ||
	    open_program_pin(directory, PIN_SETSOCKOPT, BPF_PROG_TYPE_CGROUP_SOCKOPT, SETSOCKOPT_NAME,
			     &pins->setsockopt, &pins->setsockopt_id, error, size) != 0) {
		int saved = errno;
		close_pins(pins);
		errno = saved;
		return -1;
	}
	/* The lookup writes value_size bytes per CPU: only a map of this layout is read. */
	if (join_path(path, directory, PIN_COUNTERS) == 0 && (pins->counters = libbpf.bpf_obj_get(path)) >= 0) {
		length = sizeof info;
		memset(&info, 0, sizeof info);
		if (libbpf.bpf_obj_get_info_by_fd(pins->counters, &info, &length) != 0 ||
		    info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != sizeof(struct tcpkeep_map_counters) ||
		    (info.max_entries != 1 && info.max_entries != TCPKEEP_MAP_SLOTS)) {
			close(pins->counters);
			pins->counters = -1;
		}
	}
	return 0;
}

/* Sums each CPU's copy of a slot's counters; 0, or -1 with errno set. */
int read_counters(int map_fd, uint32_t slot, struct tcpkeep_bpf_counters *sum)
{
	int cpus = libbpf.libbpf_num_possible_cpus();
	if (cpus <= 0) {
		errno = cpus < 0 ? -cpus : EINVAL;
		return -1;
	}
	/* The kernel writes one value per possible CPU, each rounded up to 8 bytes. */
	struct tcpkeep_map_counters *copies = calloc((size_t)cpus, sizeof *copies);
	if (copies == NULL)
		return -1;
	__u32 key = slot;
	int result = libbpf.bpf_map_lookup_elem(map_fd, &key, copies);
	memset(sum, 0, sizeof *sum);
	for (int cpu = 0; result == 0 && cpu < cpus; cpu++) {
		sum->configured_active += copies[cpu].configured_active;
		sum->configured_passive += copies[cpu].configured_passive;
		sum->kept += copies[cpu].kept;
		sum->enforced += copies[cpu].enforced;
		sum->timed_out += copies[cpu].timed_out;
	}
	int saved = errno;
	free(copies);
	errno = saved;
	return result;
}

static int write_value(int map_fd, const struct tcpkeep_map_value *value)
{
	__u32 key = 0;
	return libbpf.bpf_map_update_elem(map_fd, &key, value, BPF_ANY);
}

void map_value_from(const struct tcpkeep_bpf_values *values, uint64_t cgroup_id, struct tcpkeep_map_value *value)
{
	memset(value, 0, sizeof *value);
	value->layout = TCPKEEP_MAP_LAYOUT;
	value->configured = values->configured_mask & (TCPKEEP_MAP_ALL | TCPKEEP_MAP_BY_CGROUP);
	value->idle = value->configured & TCPKEEP_MAP_IDLE ? values->idle : 0;
	value->interval = value->configured & TCPKEEP_MAP_INTERVAL ? values->interval : 0;
	value->count = value->configured & TCPKEEP_MAP_COUNT ? values->count : 0;
	value->user_timeout = value->configured & TCPKEEP_MAP_USER_TIMEOUT ? values->user_timeout : 0;
	value->enforce = values->enforce != 0;
	long page_size = sysconf(_SC_PAGESIZE);
	value->page_size = page_size > 0 ? (__u32)page_size : 4096;
	value->cgroup_id = cgroup_id;
}

/* ---- public API ---------------------------------------------------------- */

int tcpkeep_bpf_validate(const struct tcpkeep_bpf_values *values, char *error, size_t size)
{
	static const struct {
		uint32_t bit;
		const char *name;
		size_t offset;
		int32_t min, max;
	} ranges[] = {
		{TCPKEEP_BPF_IDLE, "idle (TCP_KEEPIDLE, seconds)", offsetof(struct tcpkeep_bpf_values, idle), 1,
		 32767},
		{TCPKEEP_BPF_INTERVAL, "interval (TCP_KEEPINTVL, seconds)",
		 offsetof(struct tcpkeep_bpf_values, interval), 1, 32767},
		{TCPKEEP_BPF_COUNT, "count (TCP_KEEPCNT, probes)", offsetof(struct tcpkeep_bpf_values, count), 1,
		 127},
		{TCPKEEP_BPF_USER_TIMEOUT, "user timeout (TCP_USER_TIMEOUT, milliseconds)",
		 offsetof(struct tcpkeep_bpf_values, user_timeout), 0, INT32_MAX},
	};
	if (values == NULL)
		return refuse(error, size, EINVAL, "no values given");
	if (values->configured_mask & ~(uint32_t)(TCPKEEP_MAP_ALL | TCPKEEP_MAP_BY_CGROUP))
		return refuse(error, size, EINVAL, "configured_mask 0x%x has unknown bits",
			      (unsigned)values->configured_mask);
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		int32_t value;
		memcpy(&value, (const char *)values + ranges[i].offset, sizeof value);
		if ((values->configured_mask & ranges[i].bit) && (value < ranges[i].min || value > ranges[i].max))
			return refuse(error, size, EINVAL, "%s %d is out of the kernel's range %d..%d",
				      ranges[i].name, (int)value, (int)ranges[i].min, (int)ranges[i].max);
	}
	return 0;
}

int tcpkeep_bpf_default_pin_directory(const char *cgroup_path, char *buffer, size_t buffer_size, char *error,
				      size_t error_size)
{
	enum tcpkeep_bpf_problem problem;
	int fd;
	uint64_t id;
	if (cgroup_path == NULL || buffer == NULL)
		return refuse(error, error_size, EINVAL, "no cgroup path or no buffer given");
	if (open_cgroup(cgroup_path, &fd, &id, &problem, error, error_size) != 0)
		return -1;
	close(fd);
	int length = snprintf(buffer, buffer_size, "%s/%llu", TCPKEEP_BPF_PIN_ROOT, (unsigned long long)id);
	if (length < 0 || (size_t)length >= buffer_size)
		return refuse(error, error_size, ENAMETOOLONG, "the pin directory does not fit in %zu bytes",
			      buffer_size);
	return 0;
}

static struct bpf_object *open_object(struct tcpkeep_bpf_object embedded, int with_timeouts, char *error,
				      size_t size)
{
	struct bpf_object *object = libbpf.bpf_object__open_mem(embedded.bytes, embedded.size, NULL);
	if (object == NULL) {
		fail(error, size, errno, "opening the embedded BPF object");
		return NULL;
	}
	struct bpf_program *timeouts = libbpf.bpf_object__find_program_by_name(object, TIMEOUTS_NAME);
	if (!with_timeouts && timeouts != NULL && libbpf.bpf_program__set_autoload(timeouts, 0) != 0) {
		int saved = errno;
		libbpf.bpf_object__close(object);
		fail(error, size, saved, "leaving %s out of the BPF object", TIMEOUTS_NAME);
		return NULL;
	}
	return object;
}

/* Loads the object; NULL (errno set, message written) on failure.  The
 * timeouts program needs its tracepoint and kernel types of Linux 5.15 or
 * later: where the kernel refuses the object with it, the object is loaded
 * without it, and its program has no fd (kernel mode works; timeouts are not
 * counted).  TCPKEEP_BPF_WITHOUT_TIMEOUTS=1 leaves it out on any kernel, for
 * the tests of that case. */
static struct bpf_object *load_object(struct tcpkeep_bpf_object embedded, char *error, size_t size)
{
	const char *without = getenv("TCPKEEP_BPF_WITHOUT_TIMEOUTS");
	for (int with_timeouts = without == NULL || strcmp(without, "1") != 0; with_timeouts >= 0; with_timeouts--) {
		struct bpf_object *object = open_object(embedded, with_timeouts, error, size);
		if (object == NULL)
			return NULL;
		if (libbpf.bpf_object__load(object) == 0)
			return object;
		int saved = errno;
		libbpf.bpf_object__close(object);
		fail(error, size, saved,
		     "loading tcpkeep's BPF programs (the kernel lacks a feature they need, or refused them)");
		if (saved == EPERM || saved == EACCES)
			break;
	}
	return NULL;
}

/* Whether bpf() may load a program at all: the simplest one (return 0) of the
 * oldest type, loaded with the bare system call.  A kernel refusal with EPERM
 * or EACCES is then no missing feature but a permission: a seccomp filter
 * (systemd-nspawn's without bpf allowed, a container runtime's), a security
 * module, or kernel.unprivileged_bpf_disabled. */
static int check_bpf_allowed(char *error, size_t size)
{
	struct bpf_insn instructions[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr attributes;
	memset(&attributes, 0, sizeof attributes);
	attributes.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attributes.insns = (__u64)(uintptr_t)instructions;
	attributes.insn_cnt = sizeof instructions / sizeof instructions[0];
	attributes.license = (__u64)(uintptr_t) "GPL";
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attributes, sizeof attributes);
	if (fd >= 0) {
		close(fd);
		return 0;
	}
	if (errno == EPERM || errno == EACCES)
		return fail(error, size, errno,
			    "the kernel refused to load a BPF program (bpf() is forbidden here: a seccomp filter, a "
			    "security module or kernel.unprivileged_bpf_disabled)");
	/* Any other answer is the kernel's to give again to the probes below. */
	return 0;
}

enum tcpkeep_bpf_problem tcpkeep_bpf_preflight(struct tcpkeep_bpf_object object, const char *cgroup_path,
					       const char *pin_directory, char *error, size_t size)
{
	if (open_libbpf(KERNEL_MODE, error, size) != 0)
		return TCPKEEP_BPF_NO_LIBBPF;
	libbpf_line[0] = '\0';
	if (check_privileges(error, size) != 0 || check_bpf_allowed(error, size) != 0)
		return TCPKEEP_BPF_NOT_PRIVILEGED;
	char mount_point[PATH_MAX];
	if (find_cgroup2_mount(mount_point, sizeof mount_point, error, size) != 0)
		return TCPKEEP_BPF_NO_CGROUP2;
	if (cgroup_path != NULL) {
		enum tcpkeep_bpf_problem problem;
		int fd;
		if (open_cgroup(cgroup_path, &fd, NULL, &problem, error, size) != 0)
			return problem;
		close(fd);
	}
	if (check_bpffs(pin_directory != NULL ? pin_directory : TCPKEEP_BPF_PIN_ROOT, 0, error, size) != 0)
		return TCPKEEP_BPF_NO_BPFFS;

	static const struct {
		enum bpf_prog_type type;
		const char *name;
	} types[] = {
		{BPF_PROG_TYPE_SOCK_OPS, "sock_ops (Linux 4.13)"},
		{BPF_PROG_TYPE_CGROUP_SOCKOPT, "cgroup_sockopt (Linux 5.3)"},
	};
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		int supported = libbpf.libbpf_probe_bpf_prog_type(types[i].type, NULL);
		if (supported != 1) {
			fail(error, size, supported < 0 ? -supported : 0,
			     "this kernel cannot load BPF programs of type %s", types[i].name);
			errno = EOPNOTSUPP;
			return TCPKEEP_BPF_KERNEL_UNSUPPORTED;
		}
	}
	static const struct {
		enum bpf_func_id helper;
		const char *name;
	} helpers[] = {
		{BPF_FUNC_setsockopt, "bpf_setsockopt"},
		{BPF_FUNC_getsockopt, "bpf_getsockopt"},
	};
	for (size_t i = 0; i < sizeof helpers / sizeof helpers[0]; i++) {
		if (libbpf.libbpf_probe_bpf_helper(BPF_PROG_TYPE_SOCK_OPS, helpers[i].helper, NULL) != 1) {
			refuse(error, size, EOPNOTSUPP, "this kernel has no %s helper for sock_ops programs",
			       helpers[i].name);
			return TCPKEEP_BPF_KERNEL_UNSUPPORTED;
		}
	}
	/* The decisive check: the verifier accepts tcpkeep's own programs. */
	libbpf_print_fn_t previous = capture_libbpf(0);
	struct bpf_object *loaded = load_object(object, error, size);
	release_libbpf(previous);
	if (loaded == NULL) {
		if (errno == EPERM || errno == EACCES)
			return TCPKEEP_BPF_NOT_PRIVILEGED;
		errno = EOPNOTSUPP;
		return TCPKEEP_BPF_KERNEL_UNSUPPORTED;
	}
	libbpf.bpf_object__close(loaded);
	return TCPKEEP_BPF_READY;
}

/* What attach_fresh() did, for undoing it. */
struct undo {
	int cgroup_fd;
	int sockops_fd, setsockopt_fd;
	int attached_sockops, attached_setsockopt;
	char pins[7][PATH_MAX]; /* values, counters, cgroups, self, sock_ops, setsockopt, timeouts */
	int pin_count;
	char pin_directory[PATH_MAX];
	char created_top[PATH_MAX]; /* the topmost directory created, or "" */
};

static void undo_all(struct undo *undo)
{
	int saved = errno;
	if (undo->attached_setsockopt)
		libbpf.bpf_prog_detach2(undo->setsockopt_fd, undo->cgroup_fd, BPF_CGROUP_SETSOCKOPT);
	if (undo->attached_sockops)
		libbpf.bpf_prog_detach2(undo->sockops_fd, undo->cgroup_fd, BPF_CGROUP_SOCK_OPS);
	for (int i = undo->pin_count - 1; i >= 0; i--)
		unlink(undo->pins[i]);
	if (undo->created_top[0] != '\0') {
		/* Every directory from the pin directory up to created_top is ours. */
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s", undo->pin_directory);
		size_t top = strlen(undo->created_top);
		while (strlen(path) >= top) {
			if (rmdir(path) != 0)
				break;
			char *slash = strrchr(path, '/');
			if (slash == NULL || slash == path)
				break;
			*slash = '\0';
		}
	}
	errno = saved;
}

/* mkdir -p, remembering the topmost directory it created. */
static int make_directories(const char *directory, struct undo *undo, char *error, size_t size)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", directory);
	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) == 0) {
			if (undo->created_top[0] == '\0')
				snprintf(undo->created_top, sizeof undo->created_top, "%s", path);
		} else if (errno != EEXIST) {
			return fail(error, size, errno, "creating pin directory %s", path);
		}
		*p = saved;
		if (saved == '\0')
			break;
	}
	return 0;
}

static int pin(int fd, const char *directory, const char *name, struct undo *undo, char *error, size_t size)
{
	char *path = undo->pins[undo->pin_count];
	if (join_path(path, directory, name) != 0)
		return refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", directory);
	if (libbpf.bpf_obj_pin(fd, path) != 0)
		return fail(error, size, errno, "pinning %s", path);
	undo->pin_count++;
	return 0;
}

/* Loads the embedded object, writes `value` into its map (and the sock_ops program's id into
 * its own), pins
 * the maps and both cgroup programs in `directory`, and attaches the timeouts program to its
 * tracepoint, pinning the link, when the kernel takes it; all of it recorded in `undo`.  On
 * success *object_out holds the loaded object (the caller attaches and closes it); on failure
 * everything is undone. */
static int load_and_pin(struct tcpkeep_bpf_object embedded, const char *directory,
			const struct tcpkeep_map_value *value, struct undo *undo, struct bpf_object **object_out,
			char *error, size_t size)
{
	struct bpf_object *object = load_object(embedded, error, size);
	if (object == NULL)
		return -1;
	struct bpf_map *map = libbpf.bpf_object__find_map_by_name(object, MAP_NAME);
	struct bpf_map *counters = libbpf.bpf_object__find_map_by_name(object, COUNTERS_NAME);
	struct bpf_map *cgroups = libbpf.bpf_object__find_map_by_name(object, CGROUPS_NAME);
	struct bpf_program *sockops = libbpf.bpf_object__find_program_by_name(object, SOCKOPS_NAME);
	struct bpf_program *setsockopt = libbpf.bpf_object__find_program_by_name(object, SETSOCKOPT_NAME);
	struct bpf_program *timeouts = libbpf.bpf_object__find_program_by_name(object, TIMEOUTS_NAME);
	struct bpf_map *self = libbpf.bpf_object__find_map_by_name(object, SELF_NAME);
	if (map == NULL || counters == NULL || cgroups == NULL || sockops == NULL || setsockopt == NULL ||
	    timeouts == NULL || self == NULL) {
		libbpf.bpf_object__close(object);
		return refuse(error, size, ENOENT, "the embedded BPF object lacks %s, %s, %s, %s, %s, %s or %s", MAP_NAME,
			      COUNTERS_NAME, CGROUPS_NAME, SELF_NAME, SOCKOPS_NAME, SETSOCKOPT_NAME, TIMEOUTS_NAME);
	}
	int map_fd = libbpf.bpf_map__fd(map), timeouts_fd = libbpf.bpf_program__fd(timeouts), link_fd = -1;
	undo->sockops_fd = libbpf.bpf_program__fd(sockops);
	undo->setsockopt_fd = libbpf.bpf_program__fd(setsockopt);
	struct bpf_prog_info info;
	__u32 key = 0;
	/* The values go in before anything is attached, so no connection ever
	 * meets an empty map. */
	if (program_info(undo->sockops_fd, &info) != 0 ||
	    libbpf.bpf_map_update_elem(libbpf.bpf_map__fd(self), &key, &info.id, BPF_ANY) != 0) {
		fail(error, size, errno, "writing the id of %s into %s", SOCKOPS_NAME, SELF_NAME);
	} else if (write_value(map_fd, value) != 0) {
		fail(error, size, errno, "writing the values map");
	} else if (make_directories(directory, undo, error, size) == 0 &&
		   pin(map_fd, directory, PIN_VALUES, undo, error, size) == 0 &&
		   pin(libbpf.bpf_map__fd(counters), directory, PIN_COUNTERS, undo, error, size) == 0 &&
		   pin(libbpf.bpf_map__fd(cgroups), directory, PIN_CGROUPS, undo, error, size) == 0 &&
		   pin(libbpf.bpf_map__fd(self), directory, PIN_SELF, undo, error, size) == 0 &&
		   pin(undo->sockops_fd, directory, PIN_SOCKOPS, undo, error, size) == 0 &&
		   pin(undo->setsockopt_fd, directory, PIN_SETSOCKOPT, undo, error, size) == 0) {
		/* A kernel that took the timeouts program but will not attach it
		 * to its tracepoint is treated as one that refused it. */
		if (timeouts_fd >= 0)
			link_fd = libbpf.bpf_raw_tracepoint_open(NULL, timeouts_fd);
		if (link_fd < 0 || pin(link_fd, directory, PIN_TIMEOUTS, undo, error, size) == 0) {
			/* The pin holds the link from here on. */
			if (link_fd >= 0)
				close(link_fd);
			*object_out = object;
			return 0;
		}
	}
	undo_all(undo);
	int saved = errno;
	if (link_fd >= 0)
		close(link_fd);
	libbpf.bpf_object__close(object);
	errno = saved;
	return -1;
}

static int attach_fresh(struct tcpkeep_bpf_object embedded, int cgroup_fd, const char *cgroup_path,
			const char *directory, const struct tcpkeep_map_value *value, char *error, size_t size)
{
	struct undo undo;
	memset(&undo, 0, sizeof undo);
	undo.cgroup_fd = cgroup_fd;
	snprintf(undo.pin_directory, sizeof undo.pin_directory, "%s", directory);

	__u32 other = other_tcpkeep_program(cgroup_fd, 0);
	if (other != 0)
		return refuse(error, size, EEXIST,
			      "cgroup %s already has a tcpkeep sock_ops program (id %u) pinned elsewhere: "
			      "detach that one first (bpftool cgroup detach %s sock_ops id %u)",
			      cgroup_path, other, cgroup_path, other);

	struct bpf_object *object;
	if (load_and_pin(embedded, directory, value, &undo, &object, error, size) != 0)
		return -1;
	if (libbpf.bpf_prog_attach(undo.sockops_fd, cgroup_fd, BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI) != 0) {
		fail(error, size, errno, "attaching %s to cgroup %s (BPF_CGROUP_SOCK_OPS)", SOCKOPS_NAME,
		     cgroup_path);
		goto failed;
	}
	undo.attached_sockops = 1;
	if (value->enforce) {
		if (libbpf.bpf_prog_attach(undo.setsockopt_fd, cgroup_fd, BPF_CGROUP_SETSOCKOPT, BPF_F_ALLOW_MULTI) != 0) {
			fail(error, size, errno, "attaching %s to cgroup %s (BPF_CGROUP_SETSOCKOPT)",
			     SETSOCKOPT_NAME, cgroup_path);
			goto failed;
		}
		undo.attached_setsockopt = 1;
	}
	/* The pins and the cgroup now hold the programs and the map. */
	libbpf.bpf_object__close(object);
	return 0;

failed:
	undo_all(&undo);
	{
		int saved = errno;
		libbpf.bpf_object__close(object);
		errno = saved;
	}
	return -1;
}

int tcpkeep_bpf_pin(struct tcpkeep_bpf_object embedded, const char *pin_directory,
		    const struct tcpkeep_bpf_values *values, uint32_t flags, char *error, size_t size)
{
	if (open_libbpf(KERNEL_MODE, error, size) != 0)
		return -1;
	libbpf_print_fn_t previous = capture_libbpf((flags & TCPKEEP_BPF_VERBOSE) != 0);
	int result = -1;
	if (pin_directory == NULL || pin_directory[0] != '/') {
		refuse(error, size, EINVAL, "pinning needs an absolute pin directory");
		goto out;
	}
	if (tcpkeep_bpf_validate(values, error, size) != 0 || check_privileges(error, size) != 0 ||
	    check_bpffs(pin_directory, (flags & TCPKEEP_BPF_MOUNT_BPFFS) != 0, error, size) != 0)
		goto out;
	/* No cgroup: systemd attaches the pinned programs to the unit's cgroup at each start. */
	struct tcpkeep_map_value value;
	map_value_from(values, 0, &value);
	char values_pin[PATH_MAX];
	struct stat st;
	if (join_path(values_pin, pin_directory, PIN_VALUES) != 0) {
		refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", pin_directory);
	} else if (lstat(values_pin, &st) == 0) {
		struct pins pins;
		if (open_pins(pin_directory, &pins, error, size) == 0) {
			result = write_value(pins.map, &value);
			if (result != 0)
				fail(error, size, errno, "writing the values map %s", values_pin);
			close_pins(&pins);
		}
	} else {
		struct undo undo;
		memset(&undo, 0, sizeof undo);
		undo.cgroup_fd = -1;
		snprintf(undo.pin_directory, sizeof undo.pin_directory, "%s", pin_directory);
		struct bpf_object *object;
		result = load_and_pin(embedded, pin_directory, &value, &undo, &object, error, size);
		if (result == 0)
			libbpf.bpf_object__close(object);
	}
out: {
	int saved = errno;
	release_libbpf(previous);
	errno = saved;
}
	return result;
}

static int attach_update(int cgroup_fd, const char *cgroup_path, uint64_t cgroup_id, const char *directory,
			 const struct tcpkeep_map_value *value, char *error, size_t size)
{
	struct pins pins;
	if (open_pins(directory, &pins, error, size) != 0)
		return -1;
	int result = -1;
	if (pins.value.cgroup_id != cgroup_id) {
		refuse(error, size, EINVAL, "the pins in %s belong to cgroup id %llu, not to %s (id %llu)",
		       directory, (unsigned long long)pins.value.cgroup_id, cgroup_path,
		       (unsigned long long)cgroup_id);
		goto out;
	}
	int sockops_attached, setsockopt_attached;
	if (is_attached(cgroup_fd, BPF_CGROUP_SOCK_OPS, pins.sockops_id, &sockops_attached) != 0 ||
	    is_attached(cgroup_fd, BPF_CGROUP_SETSOCKOPT, pins.setsockopt_id, &setsockopt_attached) != 0) {
		fail(error, size, errno, "querying the programs attached to cgroup %s (BPF_PROG_QUERY)",
		     cgroup_path);
		goto out;
	}
	__u32 other = other_tcpkeep_program(cgroup_fd, pins.sockops_id);
	if (other != 0) {
		refuse(error, size, EEXIST,
		       "cgroup %s also has a tcpkeep sock_ops program (id %u) pinned elsewhere: detach that one "
		       "first (bpftool cgroup detach %s sock_ops id %u)",
		       cgroup_path, other, cgroup_path, other);
		goto out;
	}

	const struct tcpkeep_map_value old = pins.value;
	int did_attach_sockops = 0, did_attach_setsockopt = 0, did_detach_setsockopt = 0, wrote = 0;
	if (!sockops_attached) {
		if (libbpf.bpf_prog_attach(pins.sockops, cgroup_fd, BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI) != 0) {
			fail(error, size, errno, "re-attaching %s to cgroup %s (BPF_CGROUP_SOCK_OPS)", SOCKOPS_NAME,
			     cgroup_path);
			goto restore;
		}
		did_attach_sockops = 1;
	}
	/* Turning enforce on: values first, then the hook; off: the reverse. */
	if (!value->enforce && setsockopt_attached) {
		if (libbpf.bpf_prog_detach2(pins.setsockopt, cgroup_fd, BPF_CGROUP_SETSOCKOPT) != 0 && errno != ENOENT) {
			fail(error, size, errno, "detaching %s from cgroup %s", SETSOCKOPT_NAME, cgroup_path);
			goto restore;
		}
		did_detach_setsockopt = 1;
	}
	if (write_value(pins.map, value) != 0) {
		fail(error, size, errno, "updating the pinned values map in %s", directory);
		goto restore;
	}
	wrote = 1;
	if (value->enforce && !setsockopt_attached) {
		if (libbpf.bpf_prog_attach(pins.setsockopt, cgroup_fd, BPF_CGROUP_SETSOCKOPT, BPF_F_ALLOW_MULTI) != 0) {
			fail(error, size, errno, "attaching %s to cgroup %s (BPF_CGROUP_SETSOCKOPT)",
			     SETSOCKOPT_NAME, cgroup_path);
			goto restore;
		}
		did_attach_setsockopt = 1;
	}
	result = 0;
	goto out;

restore: {
	int saved = errno;
	if (did_attach_setsockopt)
		libbpf.bpf_prog_detach2(pins.setsockopt, cgroup_fd, BPF_CGROUP_SETSOCKOPT);
	if (wrote)
		write_value(pins.map, &old);
	if (did_detach_setsockopt)
		libbpf.bpf_prog_attach(pins.setsockopt, cgroup_fd, BPF_CGROUP_SETSOCKOPT, BPF_F_ALLOW_MULTI);
	if (did_attach_sockops)
		libbpf.bpf_prog_detach2(pins.sockops, cgroup_fd, BPF_CGROUP_SOCK_OPS);
	errno = saved;
}
out: {
	int saved = errno;
	close_pins(&pins);
	errno = saved;
}
	return result;
}

int tcpkeep_bpf_attach(struct tcpkeep_bpf_object embedded, const char *cgroup_path, const char *pin_directory,
		       const struct tcpkeep_bpf_values *values, uint32_t flags, char *error, size_t size)
{
	if (open_libbpf(KERNEL_MODE, error, size) != 0)
		return -1;
	libbpf_print_fn_t previous = capture_libbpf((flags & TCPKEEP_BPF_VERBOSE) != 0);
	int result = -1, cgroup_fd = -1;
	uint64_t cgroup_id;
	enum tcpkeep_bpf_problem problem;
	if (cgroup_path == NULL || pin_directory == NULL || pin_directory[0] != '/') {
		refuse(error, size, EINVAL, "attach needs a cgroup path and an absolute pin directory");
		goto out;
	}
	if (tcpkeep_bpf_validate(values, error, size) != 0 || check_privileges(error, size) != 0 ||
	    open_cgroup(cgroup_path, &cgroup_fd, &cgroup_id, &problem, error, size) != 0 ||
	    check_bpffs(pin_directory, (flags & TCPKEEP_BPF_MOUNT_BPFFS) != 0, error, size) != 0)
		goto out;

	struct tcpkeep_map_value value;
	map_value_from(values, cgroup_id, &value);
	char values_pin[PATH_MAX];
	if (join_path(values_pin, pin_directory, PIN_VALUES) != 0) {
		refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", pin_directory);
		goto out;
	}
	struct stat st;
	if (lstat(values_pin, &st) == 0) {
		result = attach_update(cgroup_fd, cgroup_path, cgroup_id, pin_directory, &value, error, size);
	} else if (errno == ENOENT) {
		char path[PATH_MAX];
		if ((join_path(path, pin_directory, PIN_SOCKOPS) == 0 && lstat(path, &st) == 0) ||
		    (join_path(path, pin_directory, PIN_SETSOCKOPT) == 0 && lstat(path, &st) == 0)) {
			refuse(error, size, EEXIST,
			       "%s holds a program pin but no values map, left by an interrupted run: detach it "
			       "first",
			       pin_directory);
			goto out;
		}
		result = attach_fresh(embedded, cgroup_fd, cgroup_path, pin_directory, &value, error, size);
	} else {
		fail(error, size, errno, "looking for pins in %s", pin_directory);
	}
out: {
	int saved = errno;
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	release_libbpf(previous);
	errno = saved;
}
	return result;
}

/* Removes the folders between TCPKEEP_BPF_PIN_ROOT (included) and a pin
 * directory under it that was just removed, from the bottom up, while each is
 * empty: once the last attachment goes, nothing of tcpkeep's stays on bpffs.
 * A folder that holds anything, or that another run has just made use of
 * again, stays (rmdir fails), and that is no failure of the detach. */
static void remove_empty_pin_folders(const char *pin_directory)
{
	size_t root_length = strlen(TCPKEEP_BPF_PIN_ROOT);
	if (strncmp(pin_directory, TCPKEEP_BPF_PIN_ROOT "/", root_length + 1) != 0)
		return;
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s", pin_directory);
	char *slash;
	while ((slash = strrchr(path, '/')) != NULL && (size_t)(slash - path) >= root_length) {
		*slash = '\0';
		if (rmdir(path) != 0)
			return;
	}
}

int tcpkeep_bpf_detach(const char *cgroup_path, const char *pin_directory, char *error, size_t size)
{
	if (open_libbpf(KERNEL_MODE, error, size) != 0)
		return -1;
	libbpf_print_fn_t previous = capture_libbpf(0);
	int result = -1, cgroup_fd = -1, map_fd = -1;
	struct stat st;
	if (pin_directory == NULL || pin_directory[0] != '/') {
		refuse(error, size, EINVAL, "detach needs an absolute pin directory");
		goto out;
	}
	if (stat(pin_directory, &st) != 0) {
		if (errno == ENOENT)
			refuse(error, size, ENOENT, "nothing to detach: %s does not exist", pin_directory);
		else
			fail(error, size, errno, "pin directory %s", pin_directory);
		goto out;
	}
	char path[PATH_MAX];
	uint64_t pinned_id = 0;
	int have_pinned_id = 0;
	if (join_path(path, pin_directory, PIN_VALUES) != 0) {
		refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", pin_directory);
		goto out;
	}
	map_fd = libbpf.bpf_obj_get(path);
	if (map_fd >= 0) {
		struct tcpkeep_map_value value;
		__u32 key = 0;
		if (libbpf.bpf_map_lookup_elem(map_fd, &key, &value) == 0 && value.layout == TCPKEEP_MAP_LAYOUT) {
			pinned_id = value.cgroup_id;
			have_pinned_id = 1;
		}
	} else if (errno != ENOENT) {
		fail(error, size, errno, "opening pinned map %s", path);
		goto out;
	}

	if (cgroup_path != NULL) {
		enum tcpkeep_bpf_problem problem;
		uint64_t id;
		if (open_cgroup(cgroup_path, &cgroup_fd, &id, &problem, error, size) != 0) {
			/* A removed cgroup took its attachments with it. */
			if (problem != TCPKEEP_BPF_CGROUP_MISSING)
				goto out;
			cgroup_fd = -1;
		} else if (have_pinned_id && id != pinned_id) {
			refuse(error, size, EINVAL, "the pins in %s belong to cgroup id %llu, not to %s (id %llu)",
			       pin_directory, (unsigned long long)pinned_id, cgroup_path, (unsigned long long)id);
			goto out;
		}
	} else if (have_pinned_id) {
		cgroup_fd = open_cgroup_by_id(pinned_id, NULL, 0);
	}

	static const struct {
		const char *pin;
		enum bpf_attach_type type;
		const char *name;
	} programs[] = {
		{PIN_SETSOCKOPT, BPF_CGROUP_SETSOCKOPT, SETSOCKOPT_NAME},
		{PIN_SOCKOPS, BPF_CGROUP_SOCK_OPS, SOCKOPS_NAME},
	};
	for (size_t i = 0; i < 2 && cgroup_fd >= 0; i++) {
		if (join_path(path, pin_directory, programs[i].pin) != 0)
			continue;
		int fd = libbpf.bpf_obj_get(path);
		if (fd < 0)
			continue;
		int detached = libbpf.bpf_prog_detach2(fd, cgroup_fd, programs[i].type);
		int saved = errno;
		close(fd);
		if (detached != 0 && saved != ENOENT) {
			fail(error, size, saved, "detaching %s from the cgroup", programs[i].name);
			goto out;
		}
	}
	static const char *const pin_names[] = {PIN_TIMEOUTS, PIN_SETSOCKOPT, PIN_SOCKOPS, PIN_SELF,
						PIN_CGROUPS,  PIN_COUNTERS,   PIN_VALUES};
	for (size_t i = 0; i < sizeof pin_names / sizeof pin_names[0]; i++) {
		if (join_path(path, pin_directory, pin_names[i]) == 0 && unlink(path) != 0 && errno != ENOENT) {
			fail(error, size, errno, "removing pin %s", path);
			goto out;
		}
	}
	if (rmdir(pin_directory) != 0) {
		if (errno == ENOTEMPTY)
			fail(error, size, errno,
			     "tcpkeep's programs are detached and its pins removed, but %s holds other files and "
			     "stays",
			     pin_directory);
		else
			fail(error, size, errno, "removing pin directory %s", pin_directory);
		goto out;
	}
	remove_empty_pin_folders(pin_directory);
	result = 0;
out: {
	int saved = errno;
	if (map_fd >= 0)
		close(map_fd);
	if (cgroup_fd >= 0)
		close(cgroup_fd);
	release_libbpf(previous);
	errno = saved;
}
	return result;
}

int tcpkeep_bpf_get_status(const char *pin_directory, struct tcpkeep_bpf_status *status, char *cgroup_path,
		       size_t cgroup_path_size, char *error, size_t size)
{
	if (open_libbpf(KERNEL_MODE, error, size) != 0)
		return -1;
	libbpf_line[0] = '\0';
	struct pins pins;
	if (cgroup_path != NULL && cgroup_path_size > 0)
		cgroup_path[0] = '\0';
	if (pin_directory == NULL || status == NULL)
		return refuse(error, size, EINVAL, "status needs a pin directory and a status to fill");
	if (open_pins(pin_directory, &pins, error, size) != 0)
		return -1;
	memset(status, 0, sizeof *status);
	status->cgroup_id = pins.value.cgroup_id;
	status->values.configured_mask = pins.value.configured;
	status->values.idle = pins.value.idle;
	status->values.interval = pins.value.interval;
	status->values.count = pins.value.count;
	status->values.user_timeout = pins.value.user_timeout;
	status->values.enforce = pins.value.enforce;
	status->map_id = pins.map_id;
	status->sockops_program_id = pins.sockops_id;
	status->setsockopt_program_id = pins.setsockopt_id;
	status->sockops_attached = status->setsockopt_attached = -1;
	/* Pins without `self` were made by a tcpkeep before the timeouts program,
	 * whose sock_ops program counted timeouts itself (state callbacks). */
	char timeouts_pin[PATH_MAX], self_pin[PATH_MAX];
	struct stat st;
	status->timeouts_counted = (join_path(timeouts_pin, pin_directory, PIN_TIMEOUTS) == 0 && lstat(timeouts_pin, &st) == 0) ||
				   (join_path(self_pin, pin_directory, PIN_SELF) == 0 && lstat(self_pin, &st) != 0);
	if (pins.counters >= 0) {
		if (read_counters(pins.counters, 0, &status->counters) != 0) {
			fail(error, size, errno, "reading the counters map in %s", pin_directory);
			close_pins(&pins);
			return -1;
		}
		status->counters_known = 1;
	}
	int cgroup_fd = open_cgroup_by_id(pins.value.cgroup_id, cgroup_path, cgroup_path_size);
	if (cgroup_fd >= 0) {
		int attached;
		if (is_attached(cgroup_fd, BPF_CGROUP_SOCK_OPS, pins.sockops_id, &attached) == 0)
			status->sockops_attached = attached;
		if (is_attached(cgroup_fd, BPF_CGROUP_SETSOCKOPT, pins.setsockopt_id, &attached) == 0)
			status->setsockopt_attached = attached;
		close(cgroup_fd);
	}
	close_pins(&pins);
	return 0;
}
