/*
 * The agent's cgroup map: settings by cgroup id, read by kernel mode's
 * programs in TCPKEEP_BPF_BY_CGROUP mode (bpf/tcpkeep.bpf.c), and the
 * counters slots of its policy entries.  The API is in include/CTCPKeepBPF.h.
 */
#include "CTCPKeepBPF.h"

#include <errno.h>
#include <linux/limits.h> /* PATH_MAX */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../bpf/tcpkeep_map.h"
#include "internal.h"

_Static_assert(TCPKEEP_BPF_CGROUP_ENTRIES == TCPKEEP_MAP_CGROUPS, "the public size is the map's");

/* Opens one pinned map and checks its shape. */
static int open_map(const char *pin_directory, const char *name, __u32 type, __u32 key_size, __u32 value_size,
		    int *fd_out, char *error, size_t size)
{
	char path[PATH_MAX];
	int length = snprintf(path, sizeof path, "%s/%s", pin_directory, name);
	if (length < 0 || (size_t)length >= sizeof path)
		return refuse(error, size, ENAMETOOLONG, "pin directory %s: path too long", pin_directory);
	int fd = libbpf.bpf_obj_get(path);
	if (fd < 0)
		return fail(error, size, errno, "opening pinned map %s", path);
	struct bpf_map_info info;
	__u32 info_length = sizeof info;
	memset(&info, 0, sizeof info);
	if (libbpf.bpf_obj_get_info_by_fd(fd, &info, &info_length) != 0 || info.type != type ||
	    info.key_size != key_size || info.value_size != value_size) {
		close(fd);
		return refuse(error, size, EINVAL, "%s is not a map of this version of tcpkeep", path);
	}
	*fd_out = fd;
	return 0;
}

int tcpkeep_bpf_open_cgroup_maps(const char *pin_directory, int *cgroups_fd, int *counters_fd, char *error,
				 size_t error_size)
{
	if (open_libbpf(KERNEL_MODE, error, error_size) != 0)
		return -1;
	if (open_map(pin_directory, "cgroups", BPF_MAP_TYPE_HASH, sizeof(__u64), sizeof(struct tcpkeep_map_value),
		     cgroups_fd, error, error_size) != 0)
		return -1;
	if (open_map(pin_directory, "counters", BPF_MAP_TYPE_PERCPU_ARRAY, sizeof(__u32),
		     sizeof(struct tcpkeep_map_counters), counters_fd, error, error_size) != 0) {
		int saved = errno;
		close(*cgroups_fd);
		errno = saved;
		return -1;
	}
	return 0;
}

int tcpkeep_bpf_set_cgroup_settings(int cgroups_fd, uint64_t cgroup_id, const struct tcpkeep_bpf_values *values,
				    uint32_t slot)
{
	if (slot >= TCPKEEP_BPF_COUNTER_SLOTS || tcpkeep_bpf_validate(values, NULL, 0) != 0) {
		errno = EINVAL;
		return -1;
	}
	struct tcpkeep_map_value value;
	map_value_from(values, slot, &value);
	value.configured &= TCPKEEP_MAP_ALL;
	__u64 key = cgroup_id;
	return libbpf.bpf_map_update_elem(cgroups_fd, &key, &value, BPF_ANY);
}

int tcpkeep_bpf_remove_cgroup_settings(int cgroups_fd, uint64_t cgroup_id)
{
	__u64 key = cgroup_id;
	if (libbpf.bpf_map_delete_elem(cgroups_fd, &key) != 0 && errno != ENOENT)
		return -1;
	return 0;
}

int tcpkeep_bpf_next_cgroup(int cgroups_fd, const uint64_t *previous, uint64_t *next)
{
	__u64 key = previous != NULL ? *previous : 0, found;
	if (libbpf.bpf_map_get_next_key(cgroups_fd, previous != NULL ? &key : NULL, &found) != 0)
		return -1;
	*next = found;
	return 0;
}

int tcpkeep_bpf_read_slot_counters(int counters_fd, uint32_t slot, struct tcpkeep_bpf_counters *counters)
{
	if (slot >= TCPKEEP_BPF_COUNTER_SLOTS) {
		errno = EINVAL;
		return -1;
	}
	return read_counters(counters_fd, slot, counters);
}
