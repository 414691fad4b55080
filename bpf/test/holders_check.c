/*
 * Proves the socket holders iterator (tcpkeep_bpf_open_socket_holders,
 * loaded by libbpf from bpf/socket_holders.bpf.c) on the running kernel,
 * against what /proc says, and measures its load.  Prints one "ok"/"not ok"
 * line per check (TAP) and notes ("# ...") with what it measured; exits 1 if
 * any check failed.  bpf/test/run.sh builds it and runs it as root; the BPF
 * object comes from the folder TCPKEEP_BPF_OBJECTS names (objects.h).
 *
 * Records are not unique, and a thread with a file table of its own has it
 * listed under the process's PID (so a (pid, fd) may name a socket that
 * /proc/PID/fd does not show); on a busy host a descriptor may also be
 * closed and reused between the iterator's pass and the look at /proc.  So
 * this process's own sockets are checked exactly, and the host's as a share.
 */
#define _GNU_SOURCE
#include "CTCPKeepBPF.h"
#include "objects.h"
#include "tap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#define PROGRAM_NAME "tcpkeep_holders"
#define LOADS 7

static struct tcpkeep_bpf_object object;
static char error[1024];

struct records {
	struct tcpkeep_bpf_socket_holder *items;
	size_t count;
};

static double now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

/* Loads the iterator and reads every record; the load's time in *load_ms. */
static int read_records(struct records *records, double *load_ms)
{
	double start = now_ms();
	int fd = tcpkeep_bpf_open_socket_holders(object, error, sizeof error);
	*load_ms = now_ms() - start;
	if (fd < 0)
		return -1;
	size_t capacity = 4096;
	records->items = malloc(capacity * sizeof *records->items);
	records->count = 0;
	for (;;) {
		if (records->count + 1024 > capacity)
			records->items = realloc(records->items, (capacity *= 2) * sizeof *records->items);
		ssize_t got = read(fd, records->items + records->count, 1024 * sizeof *records->items);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got <= 0)
			break;
		records->count += (size_t)got / sizeof *records->items;
	}
	close(fd);
	return 0;
}

/* How many programs named tcpkeep_holders the kernel holds. */
static int loaded_iterators(void)
{
	__u32 id = 0;
	int count = 0;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);
		struct bpf_prog_info info;
		__u32 length = sizeof info;
		memset(&info, 0, sizeof info);
		if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &length) == 0 && strcmp(info.name, PROGRAM_NAME) == 0)
			count++;
		if (fd >= 0)
			close(fd);
	}
	return count;
}

/* 1 when /proc/PID/fd/FD is the socket with this inode now. */
static int proc_shows(uint32_t pid, uint32_t fd, uint64_t inode)
{
	char path[64], link[64], expected[64];
	snprintf(path, sizeof path, "/proc/%u/fd/%u", pid, fd);
	ssize_t n = readlink(path, link, sizeof link - 1);
	link[n > 0 ? n : 0] = '\0';
	snprintf(expected, sizeof expected, "socket:[%llu]", (unsigned long long)inode);
	return strcmp(link, expected) == 0;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	object = read_bpf_object("socket_holders");
	if (geteuid() != 0) {
		fprintf(stderr, "holders_check: run as root (bpf/test/run.sh does)\n");
		return 2;
	}
	/* This process's own sockets: a listener, a connection's two ends, a UDP socket. */
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t length = sizeof address;
	int own[4];
	own[0] = socket(AF_INET, SOCK_STREAM, 0);
	bind(own[0], (struct sockaddr *)&address, sizeof address);
	listen(own[0], 1);
	getsockname(own[0], (struct sockaddr *)&address, &length);
	own[1] = socket(AF_INET, SOCK_STREAM, 0);
	connect(own[1], (struct sockaddr *)&address, sizeof address);
	own[2] = accept(own[0], NULL, NULL);
	own[3] = socket(AF_INET, SOCK_DGRAM, 0);
	int before = loaded_iterators();

	double loads[LOADS];
	struct records records = {0};
	int opened = 1;
	for (int i = 0; i < LOADS && opened; i++) {
		free(records.items);
		records.items = NULL;
		opened = read_records(&records, &loads[i]) == 0;
	}
	check(opened, "the iterator loads and reads%s%s", opened ? "" : ": ", opened ? "" : error);
	if (!opened)
		return finish_checks();
	qsort(loads, LOADS, sizeof loads[0], compare_doubles);
	note("load (open to descriptor) over %d loads: min %.1f ms, median %.1f ms, max %.1f ms; %zu records on this host",
	     LOADS, loads[0], loads[LOADS / 2], loads[LOADS - 1], records.count);

	int found = 0, foreign = 0;
	size_t shown = 0, stale = 0;
	for (size_t i = 0; i < records.count; i++) {
		const struct tcpkeep_bpf_socket_holder *r = &records.items[i];
		if (r->pid == (uint32_t)getpid()) {
			struct stat st;
			int ours = 0;
			for (int k = 0; k < 4; k++)
				ours |= (int)r->fd == own[k] && fstat(own[k], &st) == 0 && (uint64_t)st.st_ino == r->inode;
			found += ours;
			foreign += !ours;
		}
		if (proc_shows(r->pid, r->fd, r->inode))
			shown++;
		else
			stale++;
	}
	check(found == 4 && foreign == 0,
	      "this process's four sockets are listed with its PID, their descriptors and inodes, and nothing else "
	      "of it (%d found, %d other)", found, foreign);
	note("%zu records name the socket /proc/PID/fd/FD shows, %zu not (closed since, or a thread's own table)",
	     shown, stale);
	check(records.count > 0 && shown * 100 >= records.count * 99,
	      "at least 99%% of the host's records are what /proc/PID/fd shows (%zu of %zu)", shown, records.count);

	int after = loaded_iterators();
	for (int wait = 0; wait < 100 && after > before; wait++) {
		usleep(10000);
		after = loaded_iterators();
	}
	check(after == before, "nothing stays loaded once the iterator is closed (%d programs named %s before, %d after)",
	      before, PROGRAM_NAME, after);

	/* Without privileges: refused with EPERM, which the audit takes as no fallback worth a word. */
	pid_t child = fork();
	if (child == 0) {
		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(3);
		int fd = tcpkeep_bpf_open_socket_holders(object, error, sizeof error);
		_exit(fd < 0 && errno == EPERM ? 0 : 1);
	}
	int status = -1;
	waitpid(child, &status, 0);
	check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "refused with EPERM as nobody");
	return finish_checks();
}
