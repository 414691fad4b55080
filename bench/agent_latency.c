/*
 * How soon after a cgroup is made the agent has written its entry: makes N
 * cgroups under ROOT one at a time and, for each, times from mkdir() to
 *   - the inotify event of the mkdir, read by this process (the baseline: the
 *     soonest any watcher of the tree can know), and
 *   - the cgroup's own entry in the agent's pinned cgroup map (MAP), read with
 *     BPF_MAP_LOOKUP_ELEM in a loop.
 * Prints one line per cgroup, "inotify_ns map_ns", then removes the cgroups.
 *
 *   agent_latency ROOT MAP N
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../bpf/tcpkeep_map.h"

static long bpf(int command, union bpf_attr *attr)
{
	return syscall(SYS_bpf, command, attr, sizeof *attr);
}

static long long now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: agent_latency ROOT MAP N\n");
		return 2;
	}
	const char *root = argv[1];
	int count = atoi(argv[3]);
	union bpf_attr attr;
	memset(&attr, 0, sizeof attr);
	attr.pathname = (__u64)(unsigned long)argv[2];
	int map = (int)bpf(BPF_OBJ_GET, &attr);
	int watch = inotify_init1(IN_CLOEXEC);
	if (map < 0 || watch < 0 || inotify_add_watch(watch, root, IN_CREATE | IN_ONLYDIR) < 0) {
		perror("agent_latency: the map or the watch");
		return 1;
	}
	char path[4096], events[4096];
	for (int i = 0; i < count; i++) {
		snprintf(path, sizeof path, "%s/latency-%d", root, i);
		long long start = now();
		if (mkdir(path, 0755) != 0) {
			perror(path);
			return 1;
		}
		if (read(watch, events, sizeof events) <= 0) {
			perror("inotify");
			return 1;
		}
		long long seen = now();
		struct stat st;
		stat(path, &st);
		__u64 key = st.st_ino;
		struct tcpkeep_map_value value;
		for (;;) {
			memset(&attr, 0, sizeof attr);
			attr.map_fd = (__u32)map;
			attr.key = (__u64)(unsigned long)&key;
			attr.value = (__u64)(unsigned long)&value;
			if (bpf(BPF_MAP_LOOKUP_ELEM, &attr) == 0)
				break;
			if (errno != ENOENT) {
				perror("lookup");
				return 1;
			}
			if (now() - start > 10000000000LL) {
				fprintf(stderr, "agent_latency: no entry for %s after 10 s\n", path);
				return 1;
			}
			sched_yield();
		}
		printf("%lld %lld\n", seen - start, now() - start);
	}
	for (int i = 0; i < count; i++) {
		snprintf(path, sizeof path, "%s/latency-%d", root, i);
		rmdir(path);
	}
	return 0;
}
